#!/usr/bin/env python3
"""Pairs of files under shared/src that import each other (issue 12: "no two
files of shared/src import each other"). Follows `crate::` and `super::`
paths (in `use` and inline), outside `#[cfg(test)] mod tests`; a parent's
`mod child; pub use child::...` is the module tree and not counted.

    python3 scripts/module-cycles.py [shared/src] [all]

Prints each mutual pair and their count; exits 1 when there are any.
"""
import os,re,sys
root=sys.argv[1] if len(sys.argv)>1 else 'shared/src'; SHOWALL=len(sys.argv)>2
files={}
for d,_,fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(d,f); rel=os.path.relpath(p,root)
            mod=rel[:-3].replace(os.sep,'::')
            if mod.endswith('::mod'): mod=mod[:-5]
            if mod=='lib': mod=''
            files[mod]=p
def resolve(cur,path):
    # path like crate::a::b::C or super::x
    parts=path.split('::')
    if parts[0]=='crate': base=[]; parts=parts[1:]
    elif parts[0]=='super':
        base=cur.split('::')[:-1] if cur else []
        parts=parts[1:]
        while parts and parts[0]=='super': base=base[:-1]; parts=parts[1:]
    else: return None
    best=None
    for i in range(len(parts)+1):
        m='::'.join(base+parts[:i])
        if m in files: best=m
    return best
edges={}
for mod,p in files.items():
    src=open(p).read()
    src=re.split(r'#\[cfg\(test\)\]\s*mod tests',src)[0]
    src=re.sub(r'//.*','',src)
    deps=set()
    for m in re.finditer(r'\b(?:crate|super)(?:::(?:super|\w+))+',src):
        t=resolve(mod,m.group(0))
        # also handle `use crate::x::{a, b}` groups
        if t is not None and t!=mod: deps.add(t)
    for m in re.finditer(r'use\s+((?:crate|super)(?:::\w+)*)::\{([^}]*)\}',src):
        for item in m.group(2).split(','):
            item=item.strip().split(' ')[0].split('::')[0]
            if item and item!='self':
                t=resolve(mod,m.group(1)+'::'+item)
                if t is not None and t!=mod: deps.add(t)
    edges[mod]=deps
def f(m): return os.path.relpath(files[m],root)
# a parent mod.rs re-exporting its children is not an import cycle
def parent(a,b): return a=='' or b.startswith(a+'::')
pairs=[]
for a in sorted(edges):
    for b in sorted(edges[a]):
        if a<b and a in edges.get(b,()) and (SHOWALL or (not parent(a,b) and not parent(b,a))):
            pairs.append((f(a),f(b)))
for a,b in pairs: print(f"{a} <-> {b}")
print(f"{len(pairs)} mutual pair(s)")
sys.exit(1 if pairs else 0)
