#!/usr/bin/env python3
"""Build a cell in NEURON from an ISF cell parameter file + .hoc, following ISF's create_cell
as spec 02 states it (written for the template-v2 acceptance of issue 13; independent of isf).

Covers what the template-v2 file uses: labels Soma/Dendrite/ApicalDendrite/AIS/Myelin, the
generated axon (AIS key), ISF's nseg rule (f = 100 Hz, middle 3-D point diameter of the .hoc,
before scaling), rules uniform, linear (def. 1 distance, relative to the def.-2 Dmax),
exponential (def. 2) and uniform_range (def. 2, absolute, with outsidescale_sections),
ions ek/ena, and the cell-modify function scale_apical (hoc diameters as read, times scale,
then stored by NEURON as float32), applied after the channels.

usage: python3 build_param.py CELL.param [--table FILE.csv] [--segments FILE.csv]
  --table     per compartment: nseg, x, diam, area, ri and the def.-1/def.-2 distances
  --segments  the conformance folder's segments-table layout with every density
"""
import ast
import math
import os
import re
import sys

import build_cell  # neuron_h(): this folder's compiled mechanisms

LABEL_KEYS = ('Soma', 'Dendrite', 'ApicalDendrite', 'AIS', 'Myelin')
RULE_KEYS = {
    'uniform': (),
    'linear': ('distance', 'slope', 'offset'),
    'exponential': ('distance', 'offset', 'linScale', '_lambda', 'xOffset'),
    'uniform_range': ('begin', 'end', 'outsidescale', 'outsidescale_sections', 'distance'),
}


def read_param(path):
    text = open(path).read()
    text = text.replace("'", '"')
    text = re.sub(r',(\s*[}\]])', r'\1', text)
    return ast.literal_eval(text.replace('null', 'None').replace('true', 'True').replace('false', 'False'))


def label_of(name):
    if name == 'soma':
        return 'Soma'
    if 'dend' in name or 'BasalDendrite' in name:
        return 'Dendrite'
    if 'apical' in name:
        return 'ApicalDendrite'
    raise ValueError(name)


def nrn_attr(mech, key):
    """NEURON range-variable name of an ISF parameter key."""
    return '%s_%s' % (key, mech)


class Built:
    pass


def build(param_path):
    h = build_cell.neuron_h()
    p = read_param(param_path)['neuron']
    hoc = os.path.join(os.path.dirname(os.path.abspath(param_path)), p['filename'])
    hsecs, conn = build_cell.read_hoc(hoc)
    names = [n for n, _ in hsecs]
    index = {n: i for i, n in enumerate(names)}
    secs, labels, hoc_pts = [], [], []
    for name, pts in hsecs:
        sec = h.Section(name=name)
        h.pt3dclear(sec=sec)
        for x, y, z, d in pts:
            h.pt3dadd(x, y, z, d, sec=sec)
        secs.append(sec)
        labels.append(label_of(name))
        hoc_pts.append(pts)
    for i, (name, _) in enumerate(hsecs):
        if i == 0:
            continue
        pname, px = conn[name]
        if index[pname] == 0:
            px = 0.5
        secs[i].connect(secs[index[pname]](px), 0)
    preset_nseg = {}
    if 'AIS' in p:
        sx, sy, sz, sd = hsecs[0][1][len(hsecs[0][1]) // 2]
        z = sz - sd / 2.0
        n0 = len(secs)
        stub = [('axon_0', 20.0, 5, 3.0, 1.75, 0, 0.5, 'AIS'),
                ('axon_0_0', 30.0, 7, 1.75, 1.0, n0, 1.0, 'AIS'),
                ('axon_0_0_0', 1000.0, 21, 1.0, 1.0, n0 + 1, 1.0, 'Myelin')]
        for name, L, npt, d0, d1, parent, px, lab in stub:
            sec = h.Section(name=name)
            h.pt3dclear(sec=sec)
            pts = []
            for j in range(npt):
                f = j / (npt - 1)
                pts.append((sx, sy, z - f * L, d0 + f * (d1 - d0)))
                h.pt3dadd(*pts[-1], sec=sec)
            z -= L
            sec.connect(secs[parent](px), 0)
            preset_nseg[len(secs)] = npt
            secs.append(sec)
            labels.append(lab)
            hoc_pts.append(pts)
    for lab in set(labels):
        if lab not in p:
            raise SystemExit('label %s has no parameters' % lab)
    # properties, nseg (ISF's rule with the section's own Ra, cm; AIS/Myelin keep npts)
    for i, sec in enumerate(secs):
        props = p[labels[i]]['properties']
        sec.Ra = props['Ra']
        sec.cm = props['cm']
    for i, sec in enumerate(secs):
        if i in preset_nseg:
            sec.nseg = preset_nseg[i]
            continue
        d = hoc_pts[i][len(hoc_pts[i]) // 2][3]
        lam = 1e5 * math.sqrt(d / (4 * math.pi * 100.0 * sec.Ra * sec.cm))
        sec.nseg = int(2 * math.floor((sec.L / (0.1 * lam) + 0.5) / 2) + 1)
    soma = secs[0]
    # distances: def. 2 from soma(0.5) (soma: from soma(0)); def. 1 from soma(0)
    h.distance(0, soma(0.5))

    def d2(i, x):
        return x * soma.L if i == 0 else h.distance(secs[i](x))

    def d1(i, x):
        return x * soma.L if i == 0 else 0.5 * soma.L + h.distance(secs[i](x))
    children = {i: [] for i in range(len(secs))}
    for i, sec in enumerate(secs):
        ps = sec.parentseg()
        if ps is not None:
            children[secs.index(ps.sec)].append(i)
    root_of = {}
    for i in range(len(secs)):
        j = i
        while j != 0 and secs[j].parentseg().sec != soma:
            j = secs.index(secs[j].parentseg().sec)
        root_of[i] = j
    dmax = {'Soma': soma.L}
    for i in range(1, len(secs)):
        if children[i]:
            continue
        lab = labels[root_of[i]]
        dmax[lab] = max(dmax.get(lab, 0.0), d2(i, 1.0))
    # mechanisms
    for i, sec in enumerate(secs):
        lp = p[labels[i]]
        rng = lp['mechanisms']['range']
        for mech, spec in rng.items():
            sec.insert(mech)
            rule = spec['spatial']
            ctrl = RULE_KEYS[rule]
            rel = spec.get('distance') == 'relative'
            for seg in sec:
                for key, P in spec.items():
                    if key == 'spatial' or key in ctrl:
                        continue
                    if rule == 'uniform':
                        val = P
                    elif rule == 'linear':
                        D = d1(i, seg.x) / (dmax[labels[i]] if rel else 1.0)
                        val = max(P * (spec['slope'] * D + 1.0), P * spec['offset'])
                    elif rule == 'exponential':
                        D = d2(i, seg.x) / (dmax[labels[i]] if rel else 1.0)
                        val = P * (spec['offset'] + spec['linScale'] *
                                   math.exp(spec['_lambda'] * (D - spec['xOffset'])))
                    elif rule == 'uniform_range':
                        D = d2(i, seg.x)
                        if i in spec.get('outsidescale_sections', []):
                            val = P * spec['outsidescale']
                        elif spec['begin'] <= D <= spec['end']:
                            val = P
                        else:
                            val = P * spec['outsidescale']
                    else:
                        raise SystemExit('rule %s' % rule)
                    name = key if mech == 'pas' else key
                    setattr(seg, nrn_attr(mech, name), val)
        for ion, v in lp['properties'].get('ions', {}).items():
            for seg in sec:
                setattr(seg, ion, v)
    # cell-modify functions, after the channels (nseg unchanged)
    modified = []
    for fn, kw in p.get('cell_modify_functions', {}).items():
        if fn != 'scale_apical' or kw.get('compartment', 'ApicalDendrite') != 'ApicalDendrite':
            raise SystemExit('cell modify function %s %r' % (fn, kw))
        for i, sec in enumerate(secs):
            if labels[i] == 'ApicalDendrite':
                for j, (_, _, _, d) in enumerate(hoc_pts[i]):
                    h.pt3dchange(j, d * kw['scale'], sec=sec)
                modified.append(i)
    b = Built()
    b.secs, b.labels, b.names, b.dmax, b.d1, b.d2, b.modified = secs, labels, names, dmax, d1, d2, modified
    return b


def table(b, path):
    """One row per compartment: geometry and the distances the rules saw."""
    with open(path, 'w') as fh:
        fh.write('sec_index,seg_index,label,nseg,x,diam_um,area_um2,ri_Mohm,dist_def2_um,dist_def1_um\n')
        for i, sec in enumerate(b.secs):
            for k, seg in enumerate(sec):
                fh.write('%d,%d,%s,%d,%.9f,%.17g,%.17g,%.17g,%.17g,%.17g\n' % (
                    i, k, b.labels[i], sec.nseg, seg.x, seg.diam, seg.area(), seg.ri(),
                    b.d2(i, seg.x), b.d1(i, seg.x)))


def segments(b, param_path, path):
    """The conformance folder's segments-table layout (sec_index, seg_index, x, diam_um, area_um2,
    ri_Mohm, dist_to_soma_um, cm, every mechanism.parameter of the file (nan where absent), ek,
    ena), as NEURON has the cell after scale_apical."""
    p = read_param(param_path)['neuron']
    cols = []
    for lab in LABEL_KEYS:
        for mech, spec in p.get(lab, {}).get('mechanisms', {}).get('range', {}).items():
            for key in spec:
                if key != 'spatial' and key not in RULE_KEYS[spec['spatial']] and (mech, key) not in cols:
                    cols.append((mech, key))
    with open(path, 'w') as fh:
        fh.write(','.join(['sec_index', 'seg_index', 'x', 'diam_um', 'area_um2', 'ri_Mohm',
                           'dist_to_soma_um', 'cm'] + ['%s.%s' % c for c in cols] + ['ek', 'ena']) + '\n')
        for i, sec in enumerate(b.secs):
            for k, seg in enumerate(sec):
                row = [str(i), str(k), repr(seg.x), repr(seg.diam), repr(seg.area()), repr(seg.ri()),
                       repr(b.d2(i, seg.x) if i else abs(seg.x - 0.5) * sec.L), repr(seg.cm)]
                for mech, key in cols:
                    row.append(repr(getattr(seg, nrn_attr(mech, key))) if hasattr(seg, mech) else 'nan')
                for ion in ('ek', 'ena'):
                    lp = p[b.labels[i]]['properties'].get('ions', {})
                    row.append(repr(getattr(seg, ion)) if ion in lp else 'nan')
                fh.write(','.join(row) + '\n')


if __name__ == '__main__':
    b = build(sys.argv[1])
    n = sum(s.nseg for s in b.secs)
    print('sections %d, compartments %d, total area %.6f um2, Dmax %s' % (
        len(b.secs), n, sum(seg.area() for s in b.secs for seg in s), b.dmax))
    if '--table' in sys.argv:
        table(b, sys.argv[sys.argv.index('--table') + 1])
    if '--segments' in sys.argv:
        segments(b, sys.argv[1], sys.argv[sys.argv.index('--segments') + 1])
