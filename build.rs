//! Compiles the vendored protocol definitions in `proto/` with `protox` (pure Rust, so no system
//! `protoc` is needed) and generates tonic server stubs with `tonic-prost-build`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/tfplugin6.proto",
        "proto/grpc_controller.proto",
        "proto/grpc_stdio.proto",
        "proto/grpc_broker.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // RPCs the provider does not serve answer `Unimplemented`.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}
