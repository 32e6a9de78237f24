"""Train the NIDS model: ``python models/nids/train.py --data data/netflow.parquet``.

A thin entry point kept where the MLOps guide expects it; the same as ``nids train``.
"""

import sys

from nids.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
