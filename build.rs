//! Records the git commit surge was built from (`VERGEN_GIT_SHA`, `VERGEN_GIT_DIRTY`), so every
//! report says which code measured it. Outside a git checkout they are simply absent.
use vergen_gitcl::{Emitter, Gitcl};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let git = Gitcl::builder().sha(true).dirty(false).build();
    Emitter::default().add_instructions(&git)?.emit()?;
    Ok(())
}
