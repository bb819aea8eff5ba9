//! Reduced models of the simulated cell (spec 07 §7.6–7.8): raised-cosine bases and the GLM.
//! (The LDA kernel and the shared `Dataset` come from another branch; the lead merges both.)

pub mod cosine;
pub mod glm;
