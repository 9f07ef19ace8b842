#!/usr/bin/env python3
"""fill_disk.py DIR OUT: writes records r00000.json, r00001.json, ... into the
collection DIR until one fails, which must fail with ENOSPC (at write or
close); writes the numbers of the records whose close() returned 0 to OUT as
a JSON array.  Used by the disk-full tests."""
import errno
import json
import os
import sys

d, out = sys.argv[1:]
ok = []
for i in range(100000):
    path = os.path.join(d, "r%05d.json" % i)
    body = json.dumps({"i": i, "pad": "x" * 3000})
    try:
        with open(path, "w") as f:
            f.write(body)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            sys.exit("write %d failed with %s, not ENOSPC" % (i, errno.errorcode[e.errno]))
        break
    ok.append(i)
else:
    sys.exit("the disk never filled")
json.dump(ok, open(out, "w"))
print("%d writes fit" % len(ok))
