//! Compiles the vendored `metrics.proto` (prometheus/client_model) into prost
//! types with protox, so no `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/metrics.proto");
    let descriptors = protox::compile(["metrics.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
