import sys

from onnpu.cli import main

sys.exit(main())
