fn main() {
    println!("cargo:rerun-if-changed=src/variadic.c");
    println!("cargo:rerun-if-changed=src/fts");
    cc::Build::new()
        .file("src/variadic.c")
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-Werror")
        .compile("shadow_variadic");
    // Vendored as it is (BSD licence): built without the warnings our own C is held to.
    cc::Build::new().file("src/fts/fts.c").include("src/fts").define("_GNU_SOURCE", None).warnings(false).compile("shadow_fts");
}
