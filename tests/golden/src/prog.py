"""Golden py-spy target: two threads burn CPU through three Python frames for 1.5 s."""

import threading
import time


def leaf_work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def parse(n):
    return leaf_work(n) + len(str(n))


def handler(k):
    end = time.time() + 1.5
    while time.time() < end:
        parse(20000 + k)


def worker():
    handler(1)


t = threading.Thread(target=worker, name="worker-1")
t.start()
handler(2)
t.join()
