#!/usr/bin/env python3
"""Runs SQL statements on a current ClickHouse engine in-process (PyPI `chdb`), for tests that check
the SQL written for Debian's ClickHouse 18.16 also runs, with the same answers, on a current one.

The statements (separated by ';', which may also appear inside quotes or comments) come from a
file or standard input and run in order in one chdb session, so CREATE TABLE, INSERT and SELECT
see each other. The last statement's result is printed to standard output in --format
(TabSeparated by default). The session runs in UTC, as the test servers do.

On a ClickHouse error the message ("Code: 62. DB::Exception: ...") goes to standard error and the
exit status is 1; bad usage exits 2.

  tools/clickhouse/chdb_query.py [--format JSONEachRow] [FILE]

With --serve DIR it instead keeps one chdb session whose data lives in DIR (which must exist and
is left in place) and answers framed requests on standard input until it ends (EOF):
  request:  b"<FORMAT> <N>\n" + N bytes of one SQL statement (an INSERT may carry its data after
            "FORMAT JSONEachRow\n"); the statement's bytes need not be UTF-8
  response: b"OK <N>\n" + N bytes of the result in FORMAT, or b"ERR <N>\n" + N bytes of the error
            text ("Code: 62. DB::Exception: ...")
Responses go to the original standard output; anything else written to file descriptor 1 (by
chdb's engine, say) is sent to standard error so it cannot corrupt the frames.

tools/test.sh makes the venv that has chdb and names its interpreter in $COHORT_CHDB_PYTHON.
"""
import argparse
import os
import shutil
import sys
import tempfile


def split_statements(text):
    """Splits `text` at the ';' outside quotes ('', "", ``) and comments (--, #, /* */)."""
    statements, current, i, n = [], [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            current.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("--", i) or c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            current.append(text[i:j])
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            current.append(text[i:j])
            i = j
        elif c == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(c)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EOFError("standard input ended inside a request")
        data += chunk
    return data


def serve(directory):
    """The --serve loop (see the module documentation)."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray output of the engine goes to standard error
    requests = sys.stdin.buffer
    os.environ["TZ"] = "UTC"
    os.chdir(directory)
    from chdb import session  # pylint: disable=import-outside-toplevel

    sess = session.Session(os.path.join(directory, "chdb-data"))
    try:
        while True:
            header = requests.readline()
            if not header:
                return 0
            fmt, size = header.decode("ascii").split()
            sql = read_exactly(requests, int(size))
            try:
                payload, status = sess.query(sql, fmt).bytes(), b"OK"
            except Exception as e:  # pylint: disable=broad-except
                payload, status = str(e).encode("utf-8", "replace"), b"ERR"
            replies.write(b"%s %d\n" % (status, len(payload)))
            replies.write(payload)
            replies.flush()
    finally:
        sess.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", help="SQL file (default: standard input)")
    parser.add_argument("--format", default="TabSeparated", help="output format of the last result")
    parser.add_argument("--serve", metavar="DIR", help="answer framed requests in a session in DIR")
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    text = open(args.file, encoding="utf-8").read() if args.file else sys.stdin.read()
    statements = split_statements(text)
    if not statements:
        print("chdb_query: no statements", file=sys.stderr)
        return 2

    os.environ["TZ"] = "UTC"  # before chdb loads, so the engine's default time zone is UTC
    # chdb, like clickhouse-local, reads ./config.xml when there is one (a test's server config,
    # say) and would then use that server's data directory: run in an empty directory.
    workdir = tempfile.mkdtemp(prefix="chdb-query-")
    os.chdir(workdir)
    from chdb import session  # pylint: disable=import-outside-toplevel

    sess = session.Session()
    try:
        result = None
        for statement in statements:
            try:
                result = sess.query(statement, args.format)
            except Exception as e:  # chdb raises its ChdbError (a RuntimeError) with the server text
                print(str(e), file=sys.stderr)
                return 1
        sys.stdout.buffer.write(result.bytes())
        sys.stdout.buffer.flush()
    finally:
        sess.close()
        os.chdir("/")
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
