//! The one registry of stable diagnostic codes.
//!
//! Codes are never reused or removed; a retired code stays listed with "(retired)" in its
//! summary. Ranges by phase: `E00xx` lexical, `E01xx` syntax, `E02xx` names and imports,
//! `E03xx` types and units, `E04xx` schema and lowering, `E05xx` numerics at run time, `E06xx`
//! store, `E07xx` morphology files, `E08xx` ISF parameter and network files, `E09xx` internal (E0901) and analyses and pictures,
//! `W0xxx` warnings. A test (`tests/check/diagnostics.rs`) fails when a code has no case exercising it.

use serde::Serialize;

macro_rules! codes {
    ($($name:ident => $summary:literal,)*) => {
        /// A stable diagnostic code such as `E0301`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum Code { $($name,)* }

        impl Code {
            /// Every registered code, in registry order.
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            /// The code as printed, e.g. `"E0301"`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => stringify!($name),)* }
            }

            /// One-line description of what the code means.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$name => $summary,)* }
            }

            /// Look a code up by its printed form.
            pub fn parse(s: &str) -> Option<Code> {
                match s { $(stringify!($name) => Some(Code::$name),)* _ => None }
            }
        }
    };
}

codes! {
    // ---- E00xx lexical ----
    E0001 => "unexpected character",
    E0002 => "unterminated string literal",
    E0003 => "invalid escape sequence in string",
    E0004 => "malformed number",
    E0005 => "unterminated block comment",
    E0006 => "input is not valid UTF-8",
    // ---- E01xx syntax ----
    E0101 => "syntax error",
    E0102 => "unexpected end of input",
    E0103 => "NMODL or hoc idiom: write it the isf way",
    E0104 => "duplicate field in a block",
    E0105 => "duplicate declaration",
    E0106 => "duplicate key in a record",
    E0107 => "expression nested too deeply",
    // ---- E02xx names and imports ----
    E0201 => "unknown name",
    E0202 => "unknown stdlib module",
    E0203 => "imported file not found or unreadable",
    E0204 => "import cycle",
    E0205 => "imported name not found in module",
    E0206 => "unknown mechanism",
    E0207 => "unknown function",
    E0209 => "unknown field of a record",
    E0210 => "unknown parameter of a mechanism",
    E0211 => "referenced file not found",
    E0212 => "cyclic definition",
    E0213 => "random draw outside a synapse's event block",
    E0214 => "dynamic release without a receptor that draws its own release",
    // ---- E03xx types and units ----
    E0301 => "dimension mismatch",
    E0302 => "unknown unit",
    E0303 => "operands of different dimensions added or compared",
    E0304 => "exponent must be a dimensionless constant",
    E0305 => "argument of a transcendental function must be dimensionless",
    E0306 => "value has the wrong type",
    E0307 => "condition is not a boolean",
    E0308 => "branches of a conditional differ in dimension",
    E0309 => "wrong number of arguments",
    E0310 => "unknown or duplicate named argument",
    E0311 => "list elements differ in type or dimension",
    E0312 => "offset unit (degC) used in a product",
    E0313 => "division by zero in a constant expression",
    E0314 => "value out of range",
    E0315 => "value is not a compile-time constant",
    E0316 => "initial value of a synapse state depends on more than its parameters",
    E0318 => "a section index must be a non-negative integer",
    E0320 => "a recording's precision has another dimension than the recorded variable",
    // ---- E04xx schema and lowering ----
    E0401 => "unknown field for this declaration",
    E0402 => "required field missing",
    E0403 => "unknown block for this declaration",
    E0404 => "mechanism is of the wrong kind for this place",
    E0405 => "duration or time interval must be positive (retired: E0314, as every positivity rule)",
    E0406 => "time step does not divide the duration",
    E0407 => "count is not a whole number in its range (trials, cells, synapses, spikes)",
    E0408 => "unknown sweep path",
    E0409 => "reference to an undeclared neuron or network",
    E0410 => "mechanism state declared but not given a gate or equation",
    E0411 => "mechanism uses an unknown ion",
    E0412 => "invalid discretization rule",
    E0413 => "section label not present in the morphology",
    E0414 => "density is negative or not finite on the cell",
    E0415 => "declared synapses have no place on the cell (regions, distance range)",
    E0416 => "two recordings of an experiment have the same name",
    E0417 => "a recording reads a mechanism state the cell does not have at that site",
    E0418 => "run exceeds a resource limit (steps, work items, compartments, recorded bytes)",
    E0419 => "a rule names a section index the morphology does not have",
    E0420 => "a precision is given where it cannot apply (not after a trace recording, not a positive decimal step)",
    E0421 => "no neuron to inspect, or several and none chosen (`--neuron`)",
    E0422 => "inspection input and options do not fit (file kind, `--param`, `--neuron`)",
    // ---- E05xx numerics at run time ----
    E0501 => "non-finite value in the solver",
    E0502 => "runaway membrane voltage",
    E0503 => "non-finite mechanism state during a run",
    E0504 => "mechanism cannot be compiled to a kernel or placed on the cell",
    E0510 => "not supported by the simulator yet",
    E0513 => "invalid cluster submission option",
    E0514 => "the cluster scheduler cannot be reached or refused a job",
    E0515 => "submission directory holds another submission",
    E0516 => "an earlier submission of the sweep is still queued or running",
    // ---- E06xx store ----
    E0601 => "store key is corrupt or truncated",
    E0602 => "store not found or not an isf store",
    E0603 => "invalid store key",
    E0604 => "store key not found",
    E0605 => "stored value has a different kind or type",
    E0606 => "conflicting key while merging stores",
    E0607 => "store input/output error",
    E0608 => "unsupported store format version",
    E0609 => "table rows do not match the table's columns",
    E0610 => "value too large for one store file",
    E0611 => "store is locked by another writer",
    E0612 => "store holds results of a different plan",
    E0613 => "symbolic link inside a store",
    E0614 => "malformed ISF simulation result file (voltage traces, presynaptic cells)",
    E0615 => "ISF simrun folder is inconsistent (trial numbers, trace columns, duplicate files)",
    E0616 => "imported ISF results conflict with what the store holds",
    E0617 => "not an ISF simrun folder, or an ISF result file the importer cannot read",
    E0618 => "import target holds results of `isf run`",
    E0621 => "store is written from another machine whose lock this one cannot see",
    E0622 => "table cannot be exported in the requested layout, format or column",
    E0625 => "stored values break the precision declared for their column (corrupt store)",
    E0626 => "a table's declared precision is invalid or differs from the stored table's",
    // ---- E07xx morphology files ----
    E0701 => "morphology file cannot be read",
    E0702 => "malformed morphology statement",
    E0703 => "malformed number in morphology file",
    E0704 => "unknown section name in a connect or access statement",
    E0705 => "cycle in section connectivity",
    E0706 => "section not connected to the soma",
    E0707 => "non-positive diameter",
    E0708 => "truncated morphology file",
    E0709 => "malformed SWC line",
    E0710 => "SWC parent sample not found",
    E0711 => "morphology has no sections",
    E0712 => "morphology has no soma",
    E0713 => "section label not recognised",
    E0714 => "section has fewer than two 3-D points",
    E0715 => "section has zero length",
    E0716 => "unsupported statement in morphology file",
    // ---- E08xx ISF parameter and network files ----
    E0801 => "ISF parameter file cannot be read",
    E0802 => "malformed ISF parameter file",
    E0803 => "unknown key in ISF parameter file",
    E0804 => "missing key in ISF parameter file",
    E0805 => "malformed line in a .syn, .con, synapse activation or spike-time file",
    E0806 => ".syn and .con files do not match",
    E0807 => "presynaptic cell index out of range",
    E0808 => "value out of range in a network parameter file (retired: E0314, E0407 as in scripts)",
    E0809 => "synapse type not found (network vs. anatomy or replay file)",
    E0810 => "synapse location outside the morphology",
    E0811 => "unknown mechanism in an ISF cell parameter file (every place looked is named)",
    E0812 => "declaration name for a converted file is not a valid identifier or is a keyword",
    E0813 => "a mechanism file given to `isf convert --import` cannot be used",
    E0814 => "the cell parameter file names another morphology than the one given",
    E0820 => "malformed AmiraMesh scalar field (.am)",
    E0821 => "malformed cell-numbers sheet (nrCells.csv)",
    E0822 => "malformed connections sheet (ConnectionsV8.csv)",
    E0823 => "malformed bouton-density folder tree",
    E0824 => "scalar fields on different voxel grids",
    E0825 => "the morphology lies outside the density fields",
    E0826 => "postsynaptic cell type unknown or missing from the connections sheet",
    E0827 => "invalid input-mapper option or a cell grid too large",
    // ---- E09xx internal ----
    E0901 => "internal error, please report",
    // ---- E0902–E0909 analyses and pictures of run results (`isf analyze`, `isf plot`) ----
    E0902 => "analysis or plot input missing or of the wrong shape",
    E0903 => "invalid analysis or plot parameter",
    E0904 => "cannot tell whether a synapse type is excitatory",
    E0905 => "picture file cannot be written",
    E0906 => "morphology does not match the recorded compartments",
    // ---- E0916–E0919 the raised-cosine GLM reduced model (`reduce::glm`) ----
    E0916 => "reduced-model input missing or inconsistent (binned activations, spike times)",
    E0917 => "reduced-model window outside the recorded duration",
    E0918 => "reduced-model output class without trials (no spikes, or no non-spiking trials)",
    E0919 => "invalid reduced-model (GLM) parameter",
    // ---- E0910–E0915 reduced models (`isf reduce`) ----
    E0910 => "reduced-model input missing or of the wrong shape",
    E0911 => "reduced-model window outside the recorded data",
    E0912 => "a class of trials is empty or too small to fit",
    E0913 => "the LDA cannot be fitted: within-class covariance is singular",
    E0914 => "invalid reduced-model option",
    E0915 => "stored reduced model missing, malformed or not matching the data",
    // ---- W0xxx warnings ----
    W0101 => "unused let binding",
    W0102 => "unused import",
    W0104 => "field shadows a stdlib name",
}
