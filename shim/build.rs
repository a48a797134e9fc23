fn main() {
    println!("cargo:rerun-if-changed=src/variadic.c");
    cc::Build::new()
        .file("src/variadic.c")
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-Werror")
        .compile("shadow_variadic");
}
