"""A plugin's options as a form: labels with units, help as tooltips, advanced ones folded."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from workbench.capture.api import Option
from workbench.ui.option_editors import OptionsForm, option_widget, widget_value

OPTIONS = (
    Option("rate", int, 100, "samples per second", unit="Hz", label="sampling rate"),
    Option("profile", str, "cpu", "which profile to fetch", choices=("cpu", "heap")),
    Option("interval", float, 2.5, "seconds between polls", unit="s"),
    Option("nonblocking", bool, False, "sample without pausing the target", advanced=True),
    Option("thread_filter", str, None, "only threads whose name contains this", advanced=True, label="thread filter"),
)


def test_form_labels_units_tooltips_and_folded_advanced_options(qtbot, tmp_path) -> None:
    form = OptionsForm(OPTIONS)
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    assert form.labels["rate"].text() == "sampling rate (Hz)"
    assert form.labels["interval"].text() == "interval (s)"
    assert form.labels["thread_filter"].text() == "thread filter"
    rate = form.editors["rate"]
    assert isinstance(rate, QSpinBox) and rate.value() == 100
    for name, label in form.labels.items():
        assert "--" + name.replace("_", "-") in label.toolTip()
    assert "samples per second" in form.labels["rate"].toolTip()
    # advanced options are folded away until asked for, but their values are there
    assert form.more_button.isVisible()
    assert not form.editors["nonblocking"].isVisible()
    assert form.values() == {
        "rate": 100,
        "profile": "cpu",
        "interval": 2.5,
        "nonblocking": False,
        "thread_filter": None,
    }
    out = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    assert form.grab().save(str(out / "options-folded.png"))
    form.more_button.click()
    assert form.editors["nonblocking"].isVisible()
    form.editors["nonblocking"].setChecked(True)
    form.editors["thread_filter"].setText("worker")
    assert form.values()["nonblocking"] is True and form.values()["thread_filter"] == "worker"
    form.adjustSize()
    assert form.grab().save(str(out / "options-more.png"))


def test_no_toggle_without_advanced_options(qtbot) -> None:
    form = OptionsForm(OPTIONS[:2])
    qtbot.addWidget(form)
    form.show()
    assert not form.more_button.isVisible()


def test_option_widget_and_value_keep_their_signatures(qtbot) -> None:
    kinds = {o.name: option_widget(o) for o in OPTIONS}
    for w in kinds.values():
        qtbot.addWidget(w)
    assert isinstance(kinds["nonblocking"], QCheckBox)
    assert isinstance(kinds["profile"], QComboBox)
    assert isinstance(kinds["thread_filter"], QLineEdit)
    assert [widget_value(kinds[o.name]) for o in OPTIONS] == [100, "cpu", 2.5, False, None]
