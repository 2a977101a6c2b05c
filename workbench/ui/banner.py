"""Inline error banner: what happened and how to fix it, never a modal traceback."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ..errors import WorkbenchError

log = logging.getLogger(__name__)
MAX_TEXT = 600  # names in messages come from profiles: keep the banner a banner


def describe(exc: BaseException) -> tuple[str, str]:
    """(message, fix) for any exception; unexpected ones are logged with their traceback."""
    if isinstance(exc, WorkbenchError):
        return exc.message, exc.fix
    log.error("unexpected error", exc_info=exc)
    return f"unexpected {type(exc).__name__}: {exc}", "this is a bug; the log has the details"


class ErrorBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#errorBanner { background: #fde8e8; border: 1px solid #e0a0a0; border-radius: 4px; }"
            "#errorBanner QLabel { color: #5a1010; }"
        )
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # never render a profile name as markup
        self.fix = QLabel()
        self.fix.setWordWrap(True)
        self.fix.setTextFormat(Qt.TextFormat.PlainText)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        texts = QVBoxLayout()
        texts.setSpacing(1)
        texts.addWidget(self.message)
        texts.addWidget(self.fix)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addLayout(texts, 1)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_error(self, exc: BaseException) -> None:
        msg, fix = describe(exc)
        self.message.setText(msg[:MAX_TEXT])
        self.fix.setText(f"Fix: {fix[:MAX_TEXT]}" if fix else "")
        self.fix.setVisible(bool(fix))
        self.show()

    def text(self) -> str:
        return f"{self.message.text()}\n{self.fix.text()}".strip()
