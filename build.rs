//! Rebuilds the crate when the embedded default data (`geodata/`) changes.

fn main() {
    println!("cargo:rerun-if-changed=geodata");
}
