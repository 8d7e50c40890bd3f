"""Model files: reading checkpoints, converting to GGUF, quantizing, and reading GGUF files back.

``checkpoint`` reads a Hugging Face checkpoint; ``convert`` (with ``convert_tensors`` and
``convert_vocab``) writes it as GGUF; ``quantize`` and ``quant_report`` make and compare
quantizations; ``info`` reads a GGUF's metadata, ``summary`` describes it, ``paths`` finds the
file a run uses; ``metadata`` names the keys bonito-lite writes.
"""
