//! Compiles `proto/talkhouse/v1/*.proto` with protoc found via `PROTOC`, then `PATH`, then the
//! vendored binary of `protoc-bin-vendored`, and writes a descriptor set for server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let protos: Vec<PathBuf> = std::fs::read_dir(root.join("talkhouse/v1"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    if std::env::var_os("PROTOC").is_none() && which("protoc").is_none() {
        // SAFETY-free: build scripts are single-threaded; set before invoking the generator.
        unsafe_set_protoc(protoc_bin_vendored::protoc_bin_path()?);
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("talkhouse_descriptor.bin"))
        // Download chunks pass through without a copy.
        .bytes(".talkhouse.v1.ReportChunk.data")
        .compile_protos(&protos, std::slice::from_ref(&root))?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

#[allow(unsafe_code)]
fn unsafe_set_protoc(path: PathBuf) {
    // Edition 2024 marks set_var unsafe; a build script has no other threads reading the env.
    unsafe { std::env::set_var("PROTOC", path) };
}
