"""``python -m tools.prodheat up|status|down``: a production-shaped Heat on loopback.

See doc/source/prodheat.rst.  Standard library only: it runs with any
Python 3.10+; the services' own Python (Keystone, Heat, uWSGI) lives in a
venv inside the data dir.
"""

import sys

from tools.prodheat import stack


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    return stack.main(argv)


if __name__ == '__main__':
    sys.exit(main())
