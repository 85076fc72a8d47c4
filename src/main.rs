fn main() -> std::process::ExitCode {
    cdrlake::cli::main()
}
