fn main() {
    // shadowctl's marker (main.rs), looked up by the shim at start-up: exported so that the
    // loader's lookup finds it in the executable.
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=LIBSHADOW_STAYS_OUT");
}
