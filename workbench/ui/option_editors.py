"""Editors for a capture source's declared options: one form per plugin.

Each option reads as its ``label`` (its ``name`` when it has none) with its unit, carries its
``help`` as a tooltip on both label and editor, and the options a plugin marks ``advanced``
sit folded under "more options" until asked for, so a newcomer sees the few that matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..capture.api import Option
from .text import plain_tooltip

MORE = "more options"


def option_label(opt: Option) -> str:
    """``sampling rate (Hz)``: what the form calls an option."""
    text = opt.label or opt.name
    return f"{text} ({opt.unit})" if opt.unit else text


def option_tooltip(opt: Option) -> str:
    """The help, then the name the CLI and saved settings use (``--rate``)."""
    cli = f"--{opt.name.replace('_', '-')}"
    body = f"{opt.help}\n\n{cli}" if opt.help else cli
    return plain_tooltip(body)


def option_widget(opt: Option) -> QWidget:
    """The editor for one declared option, initialised to its default (its unit is on its label)."""
    if opt.type is bool:
        w: QWidget = QCheckBox()
        w.setChecked(bool(opt.default))
    elif opt.choices:
        w = QComboBox()
        w.addItems(list(opt.choices))
        if opt.default in opt.choices:
            w.setCurrentText(str(opt.default))
    elif opt.type is int:
        w = QSpinBox()
        w.setRange(0, 1_000_000)
        w.setValue(int(opt.default or 0))
    elif opt.type is float:
        w = QDoubleSpinBox()
        w.setRange(0.0, 1e9)
        w.setDecimals(2)
        w.setValue(float(opt.default or 0.0))
    else:
        w = QLineEdit("" if opt.default is None else str(opt.default))
    w.setObjectName(f"option_{opt.name}")
    w.setToolTip(option_tooltip(opt))
    return w


def widget_value(w: QWidget) -> Any:
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentText()
    if isinstance(w, QSpinBox | QDoubleSpinBox):
        return w.value()
    if isinstance(w, QLineEdit):
        return w.text() or None
    return None


class OptionsForm(QWidget):
    """A plugin's options: ``editors`` by option name, ``values()`` for ``start``.

    Options marked ``advanced`` go under a "more options" toggle (``more_button``), folded
    at first; their editors are in ``editors`` too, so values and tests see every option.
    """

    def __init__(self, options: Sequence[Option], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self.form)
        self.advanced = QWidget()
        self.advanced_form = QFormLayout(self.advanced)
        self.advanced_form.setContentsMargins(12, 0, 0, 0)  # indented under its toggle
        self.more_button = QToolButton()
        self.more_button.setText(MORE)
        self.more_button.setCheckable(True)
        self.more_button.setAutoRaise(True)
        self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more_button.setArrowType(Qt.ArrowType.RightArrow)
        self.more_button.toggled.connect(self.show_advanced)
        lay.addWidget(self.more_button)
        lay.addWidget(self.advanced)
        for opt in options:
            self._add(opt)
        has_advanced = self.advanced_form.rowCount() > 0
        self.more_button.setVisible(has_advanced)
        self.more_button.setToolTip(
            "rarely changed: " + ", ".join(option_label(o) for o in options if o.advanced) if has_advanced else ""
        )
        self.advanced.setVisible(False)

    def _add(self, opt: Option) -> None:
        editor = option_widget(opt)
        label = QLabel(option_label(opt))
        label.setToolTip(editor.toolTip())
        label.setBuddy(editor)
        (self.advanced_form if opt.advanced else self.form).addRow(label, editor)
        self.editors[opt.name] = editor
        self.labels[opt.name] = label

    def show_advanced(self, shown: bool) -> None:
        if self.more_button.isChecked() != shown:
            self.more_button.setChecked(shown)  # re-enters through toggled
            return
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.advanced.setVisible(shown)

    def values(self) -> dict[str, Any]:
        return {name: widget_value(w) for name, w in self.editors.items()}
