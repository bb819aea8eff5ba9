//! The cable solver: NEURON's fixed-step backward-Euler scheme on a branched tree.
