#!/bin/bash
python3 -c "import signal; print(\"script:\", signal.getsignal(signal.SIGINT))"
