"""The Hugging Face Hub client as bonito-lite uses it (only when a command asks for a download):
every wait bounded, so that a connection accepted but never answered (a stuck proxy, a captive
portal) ends in an error instead of a command that waits for ever.

huggingface_hub makes its shared HTTP client without a timeout, and some of its calls pass
none either (``model_info``, and the listing ``snapshot_download`` starts with). The bound is
``HF_HUB_DOWNLOAD_TIMEOUT`` (10 s unless set), which the library uses for its own downloads:
a wait between two reads, so a large file is not cut short.
"""

from __future__ import annotations

from typing import Any


def hub_timeout() -> float:
    from huggingface_hub import constants

    return float(constants.HF_HUB_DOWNLOAD_TIMEOUT)


def bound_hub_waits() -> None:
    """Give the shared client a default timeout, for the calls that pass none of their own."""
    from huggingface_hub import get_session

    session = get_session()
    timeout = getattr(session, "timeout", None)
    if timeout is not None:  # an httpx client (huggingface_hub 1.0 on); its Timeout sets all four waits
        session.timeout = type(timeout)(hub_timeout())


def model_info(repo_id: str, revision: str | None, **options: Any):
    """``HfApi().model_info`` with the timeout it does not set by itself."""
    from huggingface_hub import HfApi

    bound_hub_waits()
    return HfApi().model_info(repo_id, revision=revision, timeout=hub_timeout(), **options)
