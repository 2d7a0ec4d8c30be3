//! `herald dkim keygen`: a new DKIM key written private from its first moment, the DNS record
//! that publishes it, and the config lines that sign with it (README "DKIM").

use std::path::{Path, PathBuf};

use super::{Ctx, print};
use crate::cli::DkimCommand;
use crate::config::{Config, display_path};
use crate::dkim::{self, Algorithm, Key};
use crate::error::{Error, ExitStatus, Result, cut};

pub fn run(ctx: &Ctx, cmd: DkimCommand) -> Result<ExitStatus> {
    match cmd {
        DkimCommand::Keygen {
            selector,
            algorithm,
            domain,
            out,
        } => keygen(ctx, selector, algorithm, domain, out),
    }
}

fn keygen(
    ctx: &Ctx,
    selector: Option<String>,
    algorithm: Algorithm,
    domain: Option<String>,
    out: Option<PathBuf>,
) -> Result<ExitStatus> {
    let defaults = Config::keygen_defaults(&ctx.root, ctx.config_file.as_deref())?;
    let configured = defaults.dkim.as_ref();
    let selector = selector
        .or_else(|| configured.map(|(_, s, _)| s.clone()))
        .unwrap_or_else(|| format!("herald-{}", ctx.now.format("%Y%m")));
    if !dkim::valid_selector(&selector) {
        return Err(Error::msg(format!(
            "invalid selector \"{}\": expected letters, digits, `-` and `.`, such as herald-202611",
            cut(&selector)
        )));
    }
    let domain = domain
        .or_else(|| configured.map(|(d, _, _)| d.clone()))
        .or_else(|| defaults.from_domain.clone())
        .ok_or_else(|| {
            Error::msg("no domain to sign as: pass --domain, or set newsletter.from.email")
        })?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if !dkim::valid_domain(&domain) {
        return Err(Error::msg(format!(
            "invalid domain \"{}\": expected a domain name such as leadcraftr.com",
            cut(&domain)
        )));
    }
    let path = match (out, configured) {
        (Some(out), _) => out,
        (None, Some((_, s, file))) if *s == selector => file.clone(),
        (None, _) => defaults
            .state_dir
            .join("dkim")
            .join(format!("{selector}.pem")),
    };
    // Refused before the (slow) key generation; `write_new_key` refuses again, atomically.
    if path.symlink_metadata().is_ok() {
        return Err(Error::msg(format!(
            "{} already exists: herald never overwrites a key; choose another --selector or --out",
            path.display()
        )));
    }
    let key = Key::generate(algorithm)?;
    dkim::write_new_key(&path, key.to_pem()?.as_bytes())?;

    let file = config_path(&ctx.root, &path);
    let config_file = display_path(
        &ctx.root,
        &ctx.config_file
            .clone()
            .unwrap_or_else(|| Config::default_file(&ctx.root)),
    );
    let record = dkim::record::zone_line(&selector, &domain, algorithm, &key.public_key()?);
    let size = match algorithm {
        Algorithm::Rsa => format!("RSA-{}", key.bits()),
        Algorithm::Ed25519 => "Ed25519".into(),
    };
    let change = match configured {
        Some(_) => format!(
            "2. Then change `newsletter.dkim` in {} to the lines below. Keep the old selector's \
             record published for a week or two: mail already sent still names it.",
            config_file.display()
        ),
        None => format!(
            "2. Then add to {}, under `newsletter:`:",
            config_file.display()
        ),
    };
    print(format!(
        "wrote a new {size} DKIM key to {} (mode 0600: keep it private, and keep a copy)\n\
         \n\
         1. Publish this TXT record in the DNS of {domain}:\n\
         \n\
         {record}\n\
         \n\
         {change}\n\
         \n\
         \x20 dkim:\n\
         \x20   domain: {domain}\n\
         \x20   selector: {selector}\n\
         \x20   private_key_file: {}\n\
         \n\
         3. Once the record is live, `herald doctor` checks it against the key.\n",
        path.display(),
        file.display()
    ))?;
    Ok(ExitStatus::Success)
}

/// `path` as `private_key_file` takes it: relative to the site root when it is inside the
/// site, else absolute.
fn config_path(root: &Path, path: &Path) -> PathBuf {
    let (Ok(root), Ok(path)) = (std::fs::canonicalize(root), std::fs::canonicalize(path)) else {
        return path.to_path_buf();
    };
    display_path(&root, &path)
}
