"""Hostile students of the toy class that go for the machine and the wire (issue 20, parts 0, 5, 6).

Each attack sits in ``square``'s answer cell, before a ``square`` that is wrong unless the attack
worked (then it is right): the notebook earns 3 points (``double``) and 6 only where the attack
reached what it must not. The variants that break the wire are the student's failure: graded,
0 for the tests they broke, the rest graded, flagged for review where a frame was malformed.
Registered in :data:`hostile.fixtures.CASES`.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from hostile.fixtures import DOUBLE, SQUARE, WRONG_SQUARE, Case, answered


def make_zip_bomb(dest: Path, nbytes: int = 2**26) -> Path:
    """A lesson-05 checkpoint that is a zip bomb (5a): ``torch.save``'s archive of ``nbytes``
    zeros with its records deflated, so the file is ~1/1000 of what ``torch.load`` would
    allocate and decompress."""
    import torch

    buf = io.BytesIO()
    checkpoint = {"model": {"w": torch.zeros(nbytes, dtype=torch.uint8)}, "stem": "cifar"}
    torch.save(checkpoint, buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return dest


def _square_if(attack: str):
    """``square`` right only if ``attack`` (which sets ``won``) succeeded."""
    code = f"won = False\n{attack}\nif won:\n    {SQUARE.replace(chr(10), chr(10) + '    ')}\n"
    code += "else:\n    " + WRONG_SQUARE.replace("\n", "\n    ")
    return lambda rel: answered(rel, double=DOUBLE, square=code)


# 0. host root: kernel-wide settings of the host (opened for writing, nothing written)
HOST_SYSCTL = """for path in ('/proc/sys/kernel/core_pattern', '/proc/sys/vm/overcommit_ratio',
             '/proc/sys/kernel/panic'):
    try:
        open(path, 'r+').close()
        won = True
    except OSError as exc:
        print('refused', path, exc.errno)
"""

# 0, variant: more processes than the limit (root ignores RLIMIT_NPROC)
NPROC_ESCAPE = """import os
kids = []
try:
    for i in range(1100):
        kids.append(os.posix_spawn('/usr/bin/sleep', ['sleep', '2'], {}))
    won = True
except OSError as exc:
    print('refused after', len(kids), exc.errno)
for k in kids:
    os.waitpid(k, 0)
"""

# 5c: bubblewrap's own mounts (/, /etc, /dev) and /dev/shm: 1 GB each is more than any cap
TMPFS_FILL = """import os
for folder, cap_mb in (('/', 0), ('/etc', 0), ('/dev', 0), ('/dev/shm', 64)):
    path, written = os.path.join(folder, 'fill'), 0
    try:
        with open(path, 'wb') as fh:
            while written < 2**30:
                fh.write(bytes(2**24))
                written += 2**24
    except OSError as exc:
        print('refused', folder, written // 2**20, 'MB', exc.errno)
    try:
        os.remove(path)
    except OSError:
        pass
    won = won or written > cap_mb * 2**20
"""

# 5c, variant: the private /tmp past its size (512 MB by default)
TMP_FILL = """import os
written = 0
try:
    with open('/tmp/fill', 'wb') as fh:
        while written < 700 * 2**20:
            fh.write(bytes(2**24))
            written += 2**24
except OSError as exc:
    print('refused /tmp at', written // 2**20, 'MB', exc.errno)
os.remove('/tmp/fill')
won = written > 600 * 2**20
"""

# 5c, variant: memory no file system and no resident-set count sees (a memfd written and never
# mapped, a System V segment detached after use): 1 GB of each would be past every cap
UNSEEN_MEMORY = """import ctypes, os
try:
    fd = os.memfd_create('hoard')
    for _ in range(64):
        os.write(fd, bytes(2**24))
    won = True
except OSError as exc:
    print('memfd refused', exc.errno)
libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(0, 2**30, 0o1600)
won = won or segment >= 0
"""

# 5b: a function returning a tensor past the wire's cap (512 MB of float32)
HUGE_TENSOR = """import torch
def square(x):
    return torch.zeros(2**27)
"""

# 6: a 10-million-character string returned by the student's function
LONG_STRING = """def square(x):
    return 'x' * 10_000_000
"""

# The student's own server forged (it runs in the student's process, as ``__main__``: found
# among live objects): its replies to calls written by hand (its handler table rewritten).
_FORGE = """import gc, os, time
server = next(o for o in gc.get_objects() if type(o).__name__ == 'Server' and hasattr(o, 'fd_out'))
handlers = type(server).handle.__globals__['HANDLERS']
def forged(self, req, buffers):
{body}
handlers[next(kind for kind in handlers if kind.__name__ == 'Call')] = forged
"""

# 6, variant of the long string: sent past the sandbox's own check, refused by the grader
FORGED_LONG_STRING = _FORGE.format(body="    return {'value': 'x' * 10_000_000}, []")

# 5b, variant: a frame whose header claims a 1 TB buffer (refused from the header)
FORGED_HUGE_FRAME = _FORGE.format(
    body='    head = b\'{"ok":true,"buffers":[1099511627776]}\'\n'
    "    os.write(self.fd_out, len(head).to_bytes(4, 'big') + head + b'x' * 1000)\n"
    "    time.sleep(3600)"
)

# 6: a partial frame, never finished (the grader must not wait past the cell timeout)
PARTIAL_FRAME = _FORGE.format(
    body="    os.write(self.fd_out, (1000).to_bytes(4, 'big') + b'{\"ok\": tr')\n"
    "    time.sleep(3600)"
)

# 6, variant: a malformed frame (not JSON)
MALFORMED_FRAME = _FORGE.format(
    body="    os.write(self.fd_out, (9).to_bytes(4, 'big') + b'not json!')\n    time.sleep(3600)"
)


def _forged(prefix: str):
    """``square`` right, after ``prefix`` forged the server: the calls of the square test
    get the forged reply, so 3 points at most."""
    return lambda rel: answered(rel, double=DOUBLE, square=prefix + "\n" + SQUARE)


CASES = [
    Case("host_sysctl", _square_if(HOST_SYSCTL), 3.0),
    Case("nproc_escape", _square_if(NPROC_ESCAPE), 3.0),
    Case("tmpfs_fill", _square_if(TMPFS_FILL), 3.0),
    Case("tmp_fill", _square_if(TMP_FILL), 3.0),
    Case("unseen_memory", _square_if(UNSEEN_MEMORY), 3.0),
    Case("huge_tensor", lambda rel: answered(rel, double=DOUBLE, square=HUGE_TENSOR), 3.0),
    Case("forged_huge_frame", _forged(FORGED_HUGE_FRAME), 3.0, flags=["review:"]),
    Case("long_string", lambda rel: answered(rel, double=DOUBLE, square=LONG_STRING), 3.0),
    Case("forged_long_string", _forged(FORGED_LONG_STRING), 3.0),
    Case("partial_frame", _forged(PARTIAL_FRAME), 3.0, reason="did not finish within"),
    Case("malformed_frame", _forged(MALFORMED_FRAME), 3.0, flags=["review:"]),
]
