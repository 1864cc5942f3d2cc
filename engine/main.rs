//! The `census` command; everything happens in `census::cli`.

fn main() {
    std::process::exit(census::cli::main());
}
