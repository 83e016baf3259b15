#!/usr/bin/awk -f
# Filters `go test -v` output down to what a reader needs: one line per
# top-level test, the package result lines, and the whole output of anything
# that failed (Go prints a test's log before its --- FAIL line, so it is kept
# in a buffer until the verdict). The complete log stays in .data/test.log.
/^=== (RUN|PAUSE|CONT|NAME)/ { buf = ""; next }
/^ *--- FAIL/                { printf "%s", buf; buf = ""; print; next }
/^--- (PASS|SKIP)/           { buf = ""; print; next }
/^ *--- (PASS|SKIP)/         { buf = ""; next }
/^panic:/                    { printf "%s", buf; buf = ""; dump = 1 }
/^(ok|FAIL|PASS|\?)[ \t]/      { buf = ""; dump = 0; print; next }
/^(FAIL|PASS)$/              { buf = ""; print; next }
dump                         { print; next }
                             { buf = buf $0 "\n" }
END                          { printf "%s", buf }
