"""Which container a cgroup path names (the process picker's container column)."""

from workbench.capture.namespaces import parse_cgroup

CID = "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e"


def test_docker_cgroup_v1_and_v2() -> None:
    assert parse_cgroup(f"12:memory:/docker/{CID}\n") == ("docker", CID[:12])
    assert parse_cgroup(f"0::/system.slice/docker-{CID}.scope\n") == ("docker", CID[:12])


def test_podman() -> None:
    assert parse_cgroup(f"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{CID}.scope\n") == (
        "podman",
        CID[:12],
    )


def test_kubernetes_pod_with_containerd() -> None:
    text = (
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/"
        f"cri-containerd-{CID}.scope\n"
    )
    runtime, name = parse_cgroup(text)
    assert runtime == "kubernetes"
    assert name == f"pod 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d container {CID[:12]}"


def test_kubernetes_cgroupfs_driver() -> None:
    text = f"11:cpu:/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/{CID}\n"
    assert parse_cgroup(text)[0] == "kubernetes"


def test_no_container() -> None:
    assert parse_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n") == ("", "")
    assert parse_cgroup("4:memory:/process_api/a3777c771e71a3466991b0032596fc4e\n") == ("", "")
