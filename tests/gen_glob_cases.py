#!/usr/bin/env python3
# tests/gen_glob_cases.py PORT FILE -- ask a real redis-server (on 127.0.0.1:PORT; it is
# FLUSHALLed) which keys KEYS selects for tricky and random glob patterns; writes
# tests/glob_cases.txt for tests/test_glob.c. Not run by make test.
import socket, random, sys
port = int(sys.argv[1])
s = socket.create_connection(('127.0.0.1', port)); f = s.makefile('rb')
def cmd(*a):
    out = b'*%d\r\n' % len(a)
    for x in a:
        if isinstance(x, str): x = x.encode('latin-1')
        out += b'$%d\r\n%s\r\n' % (len(x), x)
    s.sendall(out); return read()
def read():
    l = f.readline()
    t, r = l[:1], l[1:-2]
    if t in b'+-': return r
    if t == b':': return int(r)
    if t == b'$':
        n = int(r)
        if n < 0: return None
        d = f.read(n + 2); return d[:-2]
    if t == b'*': return [read() for _ in range(int(r))]
random.seed(7)
alpha = ['a', 'b', 'c', '-', ']', '[', '^', '\\', '*', '?', '\x80', '\xff', 'z', '0']
keys = set(['', 'a', 'b', 'ab', 'abc', 'a-b', ']', '[', '^', '\\', '*', '?', '\x80', '\xff', 'A', 'aa', 'ba', 'xyz', 'hello', 'hallo', 'hllo', 'heeeello'])
while len(keys) < 150:
    keys.add(''.join(random.choice(alpha) for _ in range(random.randint(1, 4))))
pats = ['*', '**', '?', '*a', 'a*', '*a*', 'a?c', 'h?llo', 'h*llo', 'h[ae]llo', 'h[^e]llo', 'h[a-b]llo',
        '[a-]', '[]', '[]]', '[^]', '[', '[ab', '[a-', '\\', 'a\\', '\\*', '\\?', '[\\]]', '[\\-]', '[z-a]',
        '[\x80-\xff]', '[a-\xff]', '[\xff-a]', '*\\', '[^a-c]*', '?*?', '*?*', '[[]', '[^', '[!a]', '[a-c-e]',
        '**a**', 'a[', '\\[a]', '[\\', '[a\\]', '[^\\]]*']
while len(pats) < 400:
    pats.append(''.join(random.choice(alpha) for _ in range(random.randint(1, 5))))
cmd('FLUSHALL')
for k in keys: cmd('SET', k, '1')
ks = sorted(keys)
ver = [l for l in cmd('INFO', 'server').decode().split('\r\n') if l.startswith('redis_version:')][0][14:]
with open(sys.argv[2], 'w') as out:
    out.write('# Redis %s KEYS verdicts (tests/gen_glob_cases.py PORT FILE): "k" lines list the\n' % ver)
    out.write('# keys (hex, "-" empty); each "p" line a pattern (hex) and one 0/1 per key, in order\n')
    for k in ks: out.write('k %s\n' % (k.encode('latin-1').hex() or '-'))
    for p in pats:
        got = set(x.decode('latin-1') for x in cmd('KEYS', p))
        out.write('p %s %s\n' % (p.encode('latin-1').hex() or '-', ''.join('1' if k in got else '0' for k in ks)))
