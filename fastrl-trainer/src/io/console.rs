//! Messages to the terminal that never stop the work. `println!` and `eprintln!` panic
//! when their stream is closed (a `| head` or `| grep -q` that has exited, a log
//! collector that died), which ended a training run at its next message; these write
//! the same line and ignore a closed or failing stream. Every message of the trainer
//! goes through them.

/// Writes a line to stderr like `eprintln!`, ignoring a closed or failing stream.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

/// Writes a line to stdout like `println!`, ignoring a closed or failing stream.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stdout(), $($arg)*);
    }};
}
