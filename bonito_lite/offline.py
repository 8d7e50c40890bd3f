"""Keep generation off the network: Hugging Face's offline and no-telemetry switches."""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def go_offline() -> None:
    """Set the switches for this process; huggingface_hub and datasets read them on use."""
    os.environ.update(OFFLINE_ENVIRONMENT)
