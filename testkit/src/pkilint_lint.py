"""pkilint's lint_pkix_cert command line, run once per line of stdin.

Each line is a JSON string, the path of a certificate; each answer is one line
of JSON: {"stdout", "stderr", "code"} of `lint_pkix_cert lint -s ERROR PATH`,
by the same main() the command runs, so pkilint is imported once per process
instead of once per certificate.
"""

import contextlib
import io
import json
import sys
import traceback

from pkilint.bin import lint_pkix_cert

for line in sys.stdin:
    path = json.loads(line)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = lint_pkix_cert.main(["lint", "-s", "ERROR", path])
        except SystemExit as e:
            code = e.code
        except Exception:
            traceback.print_exc()
            code = 1
    answer = {"stdout": out.getvalue(), "stderr": err.getvalue(), "code": code}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
