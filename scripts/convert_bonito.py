#!/usr/bin/env python3
"""Convert the bonito-v1 checkpoint (or a local copy) to a quantized GGUF file.

The same conversion as ``bonito-lite convert``; this script only forwards its arguments:

    python scripts/convert_bonito.py BatsResearch/bonito-v1 --quant Q4_K_M
    python scripts/convert_bonito.py ./bonito-v1 -o models/bonito-v1.Q8_0.gguf --quant q8_0
"""

import sys

from bonito_lite.cli import cli

if __name__ == "__main__":
    cli(args=["convert", *sys.argv[1:]], prog_name="convert_bonito.py")
