"""Puts build/versions.md (written by the integration tests) into README.md between the
<!-- versions:begin --> and <!-- versions:end --> markers. Run by ./setup test after a green run."""

import os
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.environ.get("GOMEM_BUILD", os.path.join(top, "build"))
begin, end = "<!-- versions:begin -->", "<!-- versions:end -->"
table_path = os.path.join(build, "versions.md")
if not os.path.exists(table_path):
    sys.exit("versions_table.py: %s is missing: run the integration tests first" % table_path)
with open(table_path) as f:
    table = f.read()
readme_path = os.path.join(top, "README.md")
with open(readme_path) as f:
    readme = f.read()
if begin not in readme or end not in readme:
    sys.exit("versions_table.py: README.md has no %s ... %s markers" % (begin, end))
head, rest = readme.split(begin, 1)
_, tail = rest.split(end, 1)
new = head + begin + "\n" + table + end + tail
if new != readme:
    with open(readme_path, "w") as f:
        f.write(new)
    print("README.md: the table of supported versions was regenerated from this run")
