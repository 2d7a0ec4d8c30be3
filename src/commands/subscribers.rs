//! `herald subscribers add|remove|list|import|export` and `herald unsubscribe TOKEN`.

use super::{Ctx, print};
use crate::cli::{ListArgs, SubscribersCommand};
use crate::config::one_line;
use crate::error::{Error, ExitStatus, Result};
use crate::newsletter::lists;
use crate::state::subscribers::{Added, Source};
use crate::state::{Db, MemberStatus, secret, tokens};

fn check_address(address: &str) -> Result<()> {
    if lists::valid_address(address) && !address.contains(['\r', '\n']) {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "\"{}\" is not an email address",
            one_line(address)
        )))
    }
}

pub fn run(ctx: &Ctx, cmd: SubscribersCommand) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let now = ctx.now.timestamp();
    match cmd {
        SubscribersCommand::Add {
            address,
            list,
            name,
        } => {
            config.list(&list)?;
            check_address(&address)?;
            let db = Db::open(&config.state_dir)?;
            match db.add_member(
                &address,
                &one_line(name.as_deref().unwrap_or("")),
                &list,
                Source::Cli,
                now,
            )? {
                Added::Added => ctx.ui.out(format!("added {address} to {list}"))?,
                Added::AlreadyMember => ctx.ui.out(format!("{address} is already in {list}"))?,
                Added::Suppressed(status) => {
                    let what = match status {
                        MemberStatus::Complained => "reported this site's mail as spam".into(),
                        status => format!("is {status}"),
                    };
                    return Err(Error::msg(format!(
                        "{address} {what}: only a new confirmed sign-up can bring it back"
                    )));
                }
            }
        }
        SubscribersCommand::Remove { address, list } => {
            let db = Db::open(&config.state_dir)?;
            match list {
                Some(list) => {
                    config.list(&list)?;
                    if db.remove_member(&address, &list)? {
                        ctx.ui.out(format!("removed {address} from {list}"))?;
                    } else {
                        return Err(Error::msg(format!("{address} is not in {list}")));
                    }
                }
                None => {
                    if db.unsubscribe(&address, None, now)? {
                        ctx.ui
                            .out(format!("unsubscribed {address} from every list"))?;
                    } else {
                        return Err(Error::msg(format!("{address} is not a subscriber")));
                    }
                }
            }
        }
        SubscribersCommand::List(ListArgs { list, status, json }) => {
            if let Some(l) = &list {
                config.list(l)?;
            }
            let db = Db::open(&config.state_dir)?;
            let members = db.members(list.as_deref(), status)?;
            let text = if json {
                serde_json::to_string_pretty(&members).unwrap_or_default() + "\n"
            } else {
                members
                    .iter()
                    .map(|m| {
                        let lists = m.lists.join(",");
                        format!("{}\t{}\t{lists}\t{}\n", m.email, m.status, m.name)
                    })
                    .collect()
            };
            print(&text)?;
        }
        SubscribersCommand::Import {
            file,
            list,
            skip_invalid,
        } => {
            config.list(&list)?;
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let invalid = if skip_invalid {
                lists::Invalid::Skip
            } else {
                lists::Invalid::Reject
            };
            let (rows, problems) = lists::read_csv(&bytes, &file, invalid);
            if !problems.is_empty() && !skip_invalid {
                let mut diags = problems;
                diags.push(crate::error::Diagnostic::bare(
                    "herald: nothing imported: fix the rows above or pass --skip-invalid",
                ));
                return Err(Error::Invalid(diags));
            }
            for p in &problems {
                ctx.ui.warn(p.to_string());
            }
            let db = Db::open(&config.state_dir)?;
            let rows: Vec<(String, String)> = rows.into_iter().map(|r| (r.email, r.name)).collect();
            let outcomes = db.add_members(&rows, &list, Source::Import, now)?;
            let added = outcomes.iter().filter(|o| **o == Added::Added).count();
            let suppressed = outcomes
                .iter()
                .filter(|o| matches!(o, Added::Suppressed(_)))
                .count();
            ctx.ui.out(format!(
                "imported into {list}: {added} added, {} already members, {suppressed} skipped (unsubscribed, bounced or complained), {} invalid",
                outcomes.len() - added - suppressed,
                problems.len()
            ))?;
        }
        SubscribersCommand::Export { list } => {
            config.list(&list)?;
            let db = Db::open(&config.state_dir)?;
            // Rows are collected first, so that a closed stdout is only ever an I/O error.
            let mut w = csv::Writer::from_writer(Vec::new());
            let write = |w: &mut csv::Writer<_>, rec: [&str; 2]| {
                w.write_record(rec)
                    .map_err(|e| Error::msg(format!("writing CSV: {e}")))
            };
            write(&mut w, ["email", "name"])?;
            for m in db.members(Some(&list), Some(MemberStatus::Active))? {
                if m.lists.contains(&list) {
                    write(&mut w, [&m.email, &m.name])?;
                }
            }
            let csv = w
                .into_inner()
                .map_err(|e| Error::msg(format!("writing CSV: {}", e.error())))?;
            print(&csv)?;
        }
    }
    Ok(ExitStatus::Success)
}

pub fn unsubscribe(ctx: &Ctx, token: &str) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let refused = || {
        Error::msg("this unsubscribe token is not valid: it was altered, or made for another site")
    };
    if !config.state_dir.join(secret::FILE).exists() {
        return Err(refused());
    }
    let key = secret::load_or_create(&config.state_dir)?;
    let u = tokens::verify_unsubscribe(&key, token).ok_or_else(refused)?;
    let db = Db::open(&config.state_dir)?;
    let email = db.address_of(&u.who)?.ok_or_else(|| {
        Error::msg("this unsubscribe token names a subscriber this site no longer has")
    })?;
    db.unsubscribe(&email, Some(&u.lists), ctx.now.timestamp())?;
    ctx.ui.out(format!(
        "unsubscribed {} from {}",
        email,
        u.lists.join(", ")
    ))?;
    Ok(ExitStatus::Success)
}
