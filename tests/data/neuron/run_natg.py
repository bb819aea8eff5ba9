"""NaTg (shifted, spec 03 3.2) on a one-compartment soma in NEURON 9.0.2: soma v every 1 ms
and spike times, for tests/solver/isf_extra_mechanisms.rs."""
import json, sys
import neuron
from neuron import h
assert hasattr(h, 'NaTg'), 'run in /tmp/na/natg (auto-loads x86_64)'
h.load_file('stdrun.hoc')
soma = h.Section(name='soma')
h.pt3dadd(0, 0, 0, 20, sec=soma); h.pt3dadd(0, 0, 20, 20, sec=soma)
soma.nseg = 1; soma.Ra = 100; soma.cm = 1
for m in ['pas', 'NaTg', 'K_Tst', 'SKv3_1']:
    soma.insert(m)
seg = soma(0.5)
seg.g_pas, seg.e_pas = 3e-5, -90
seg.gNaTgbar_NaTg, seg.vshiftm_NaTg, seg.vshifth_NaTg, seg.slopem_NaTg, seg.slopeh_NaTg = 1.5, 3.0, -4.0, 7.0, 5.0
seg.gK_Tstbar_K_Tst = 0.05
seg.gSKv3_1bar_SKv3_1 = 0.5
seg.ena, seg.ek = 50, -85
st = h.IClamp(seg); st.amp, st.delay, st.dur = 0.3, 5.0, 30.0
tv = h.Vector().record(h._ref_t); vv = h.Vector().record(seg._ref_v)
h.cvode_active(0); h.secondorder = 0; h.dt = 0.025; h.celsius = 34
h.finitialize(-75)
while h.t < 50.0:
    h.fadvance()
t = list(tv)[:2001]; v = list(vv)[:2001]
sp = [round(t[i], 3) for i in range(1, len(v)) if v[i-1] < 0 <= v[i]]
out = {'spikes_ms': sp, 'soma_mv': [float('%.6f' % x) for x in v[::40]], 'full_soma_mv': [float('%.6f' % x) for x in v]}
json.dump(out, open(sys.argv[1], 'w'), separators=(',', ':'))
print(len(sp), sp, min(v), max(v))
