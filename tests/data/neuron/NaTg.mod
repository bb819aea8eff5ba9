: NaTg -- transient Na with adjustable shifts/slopes, written from spec 03 section 3.2
: (guards test the unshifted -38/-66 mV, as the spec says).
NEURON {
    SUFFIX NaTg
    USEION na READ ena WRITE ina
    RANGE gNaTgbar, vshiftm, vshifth, slopem, slopeh
}
UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}
PARAMETER {
    gNaTgbar = 0.00001 (S/cm2)
    vshiftm = 0 (mV)
    vshifth = 0 (mV)
    slopem = 6 (mV)
    slopeh = 6 (mV)
}
ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
    mInf
    mTau
    hInf
    hTau
}
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gNaTgbar*m*m*m*h*(v-ena)
}
DERIVATIVE states {
    rates()
    m' = (mInf-m)/mTau
    h' = (hInf-h)/hTau
}
INITIAL {
    rates()
    m = mInf
    h = hInf
}
PROCEDURE rates() {
    LOCAL qt, vv, mAlpha, mBeta, hAlpha, hBeta
    qt = 2.3^((34-21)/10)
    UNITSOFF
    vv = v
    if (vv == -38) { vv = vv + 0.0001 }
    mAlpha = (0.182 * (vv - (-38+vshiftm)))/(1-(exp(-(vv - (-38+vshiftm))/slopem)))
    mBeta = (0.124 * (-vv + (-38+vshiftm)))/(1-(exp(-(-vv + (-38+vshiftm))/slopem)))
    mTau = (1/(mAlpha + mBeta))/qt
    mInf = mAlpha/(mAlpha + mBeta)
    if (vv == -66) { vv = vv + 0.0001 }
    hAlpha = (-0.015 * (vv - (-66+vshifth)))/(1-(exp((vv - (-66+vshifth))/slopeh)))
    hBeta = (-0.015 * (-vv + (-66+vshifth)))/(1-(exp((-vv + (-66+vshifth))/slopeh)))
    hTau = (1/(hAlpha + hBeta))/qt
    hInf = hAlpha/(hAlpha + hBeta)
    UNITSON
}
