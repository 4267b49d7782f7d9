import sys

from ntpd_map.cli import main

sys.exit(main())
