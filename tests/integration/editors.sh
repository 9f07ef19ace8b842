#!/bin/bash
# Editors and tools that save through temporary files, renames and backups.
. "$(dirname "$0")/common.bash"
init_db
mount_fs
cd "$MNT" || fail cd
mkdir c || fail mkdir

# vim with its default settings (swap file, write backup, the 4913 probe).
printf '{\n  "title": "old"\n}\n' > c/v.json
vim -Es -c '%s/old/new/' -c 'wq' c/v.json </dev/null || fail "vim exited with $?"
expect_eq "$(jq -r .title c/v.json)" new "vim edit"
expect_eq "$(ls -A c)" v.json "files left by vim"

# sed -i (writes a temporary scratch file, renames it over the record).
sed -i 's/new/sed/' c/v.json || fail "sed -i"
expect_eq "$(jq -r .title c/v.json)" sed "sed -i edit"
expect_eq "$(ls -A c)" v.json "files left by sed -i"

# jq into a temporary file, then mv over the record.
jq '.x = 1' c/v.json > c/t && mv c/t c/v.json || fail "jq + mv"
expect_eq "$(jq -c . c/v.json)" '{"title":"sed","x":1}' "jq + mv"
expect_eq "$(ls -A c)" v.json "files left by jq + mv"

# python json.dump straight into a record.
python3 - "$MNT/c/p.json" <<'PY' || fail "python json.dump"
import json, sys
with open(sys.argv[1], "w") as f:
    json.dump({"k": [1, 2, 3], "s": "\u00e9t\u00e9"}, f)
with open(sys.argv[1]) as f:
    assert json.load(f) == {"k": [1, 2, 3], "s": "\u00e9t\u00e9"}, "read back differs"
PY

# rsync -a of a directory of JSON files, then a second run journals nothing.
src=$T/src/r
mkdir -p "$src"
for i in $(seq 20); do printf '{"i": %d, "name": "r%d"}\n' "$i" "$i" > "$src/r$i.json"; done
rsync -a "$src" . || fail "rsync -a"
diff -r "$src" r || fail "rsync copy differs"
before=$(vv)
rsync -a "$src" . || fail "second rsync -a"
diff -r "$src" r || fail "second rsync copy differs"
expect_eq "$(vv)" "$before" "version vector after a no-op rsync"
expect_eq "$(ls -A r | wc -l)" 20 "files after rsync"

# tar x into a collection.
mkdir -p "$T/tar/tc"
for i in 1 2 3; do printf '{"t": %d}\n' "$i" > "$T/tar/tc/t$i.json"; done
tar -C "$T/tar" -cf "$T/a.tar" tc
tar -C "$MNT" -xf "$T/a.tar" || fail "tar x"
diff -r "$T/tar/tc" tc || fail "tar x copy differs"
tar -C "$MNT" -xf "$T/a.tar" || fail "tar x over existing records"
diff -r "$T/tar/tc" tc || fail "second tar x copy differs"
