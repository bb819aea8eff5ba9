#!/usr/bin/env python3
"""NEURON references for a cell built by build_param.py from an ISF cell parameter file.

Cases (conformance README S0/S1/S2 definitions, fixed step 0.025 ms, 34 degC, v_init -75 mV):
  S0_rest     no stimulus, 300 ms
  S1_<amp>nA  IClamp soma(0.5), delay 100 ms, duration 150 ms, 300 ms; -0.1, 0.619, 0.793, 1.507
  S2_bAP      IClamp soma(0.5) 1.9 nA, 295-300 ms, 400 ms
  S2_BAC      bAP plus epsp (onset 300 ms, imax 0.5 nA, tau0 1 ms, tau1 5 ms) at EPSP_SITE

usage: python3 run_param_cases.py CELL.param --out DIR [--json FILE] [--epsp SEC X]
Writes DIR/<case>_trace.csv (t_ms, v_soma, v_epsp_site, 6 decimals) and
DIR/<case>_spikes.csv (ISF's spike rule), and with --json a compact summary: spike times and
the soma voltage every 1 ms (every 40th sample) per case.
"""
import argparse
import json
import os

import build_param
import sim

CASES = [('S0_rest', None), ('S1_step_-0.1nA', -0.1), ('S1_step_0.619nA', 0.619),
         ('S1_step_0.793nA', 0.793), ('S1_step_1.507nA', 1.507), ('S2_bAP', None), ('S2_BAC', None)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('param')
    ap.add_argument('--out', required=True)
    ap.add_argument('--json')
    ap.add_argument('--epsp', nargs=2, default=['62', '0.25'])
    a = ap.parse_args()
    b = build_param.build(a.param)
    esec, ex = int(a.epsp[0]), float(a.epsp[1])
    os.makedirs(a.out, exist_ok=True)
    summary = {'param': os.path.basename(a.param), 'epsp_site': [esec, ex], 'dt_ms': sim.DT,
               'soma_every': 40, 'cases': {}}
    for case, amp in CASES:
        H = sim.h()
        keep = []
        segs = {'v_soma': b.secs[0](0.5), 'v_epsp_site': b.secs[esec](ex)}
        tstop = 400.0 if case.startswith('S2') else 300.0
        if amp is not None:
            keep.append(sim.iclamp(segs['v_soma'], amp))
        if case.startswith('S2'):
            keep.append(sim.iclamp(segs['v_soma'], 1.9, delay=295.0, dur=5.0))
        if case == 'S2_BAC':
            ep = H.epsp(segs['v_epsp_site'])
            ep.onset, ep.imax, ep.tau0, ep.tau1 = 300.0, 0.5, 1.0, 5.0
            keep.append(ep)
        tv, vs = sim.record(segs)
        wall = sim.run(tstop)
        t, v = sim.to_arrays(tv, vs, tstop)
        cols = ['v_soma', 'v_epsp_site']
        sim.write_trace(os.path.join(a.out, case + '_trace.csv'), t, v, cols)
        sp = sim.spikes(t, v['v_soma'])
        with open(os.path.join(a.out, case + '_spikes.csv'), 'w') as fh:
            fh.write('spike_index,t_ms,t_interp_ms\n')
            for i, (ts, ti) in enumerate(sp):
                fh.write('%d,%.3f,%.5f\n' % (i, ts, ti))
        summary['cases'][case] = {
            'tstop_ms': tstop,
            'spikes_ms': [round(s[0], 3) for s in sp],
            'soma_mv': [float('%.6f' % x) for x in v['v_soma'][::40]],
            'epsp_site_max_mv': float('%.6f' % max(v['v_epsp_site'])),
        }
        print('%-16s %2d spikes %s  v_soma[end] %.6f  epsp-site max %.3f  (%.2f s)' % (
            case, len(sp), ' '.join('%.3f' % s[0] for s in sp), v['v_soma'][-1],
            max(v['v_epsp_site']), wall))
        del keep
    if a.json:
        with open(a.json, 'w') as fh:
            json.dump(summary, fh, separators=(',', ':'))


if __name__ == '__main__':
    main()
