#!/usr/bin/env bash
# tests/lint/citations.sh — the repository must stand alone: no file may cite a document that is
# not in it (design notes or reference texts kept outside the repository, "§" section numbers
# of such texts), and every docs/<name>.md that a file names must exist. Run by ctest
# (repo_citations) and by tests/lint.sh. Exits 1 listing each offending line.
set -euo pipefail
cd "$(dirname "$0")/../.."
self=tests/lint/citations.sh
status=0

# Citations of texts outside the repository. Write the fact into docs/ and cite that file.
outside='\.\./shared|/work/shared|\bDESIGN\b|peers\.md|atlas-sdk[-]spec|cpp-plugin[-]anchors|reference/|reference §|spec §|§ ?[0-9]'
if git grep -nIE "$outside" -- . ":(exclude)$self"; then
  echo "citations: FAIL: the lines above cite documents that are not in the repository;" \
       "put the facts into docs/ and cite that file" >&2
  status=1
fi

# Every docs/<name>.md named anywhere must exist.
while IFS= read -r hit; do
  file=${hit%%:*}
  for doc in $(printf '%s\n' "${hit#*:}" | grep -oE '(^|[^a-zA-Z0-9_./-])docs/[a-z0-9_-]+\.md' | grep -oE 'docs/.*'); do
    [ -f "$doc" ] || { echo "citations: FAIL: $file cites $doc, which does not exist" >&2; status=1; }
  done
done < <(git grep -nIE 'docs/[a-z0-9_-]+\.md' -- . ":(exclude)$self" | sed -E 's/^([^:]+):[0-9]+:/\1:/')

[ "$status" = 0 ] && echo "citations: OK (no citation of a document outside the repository; every cited docs/*.md exists)"
exit "$status"
