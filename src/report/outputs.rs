//! Where `lagtap correlate` will write, checked before any decoding: a report that
//! took minutes to compute must not be lost to a typo in a path.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::plots::{self, PlotFormat};

/// The files and directories one `lagtap correlate` run writes.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    /// `--samples DIR`.
    pub samples: Option<PathBuf>,
    /// `--plots DIR` and `--plot-format`.
    pub plots: Option<PathBuf>,
    pub plot_format: PlotFormat,
    /// `--html FILE`.
    pub html: Option<PathBuf>,
}

/// Writes and removes a probe file in `dir`: the only sure test that files can be
/// created there (permissions, read-only mounts, ACLs).
fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(format!(".lagtap-write-check-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let written = f.write_all(b"x");
    drop(f);
    let removed = std::fs::remove_file(&path);
    written.and(removed)
}

/// An output directory: created when missing, and files must be creatable in it.
fn check_dir(flag: &str, dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("{flag} {}: exists and is not a directory", dir.display());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        anyhow::anyhow!("{flag} {}: cannot create the directory: {e}", dir.display())
    })?;
    probe(dir)
        .map_err(|e| anyhow::anyhow!("{flag} {}: cannot write files there: {e}", dir.display()))
}

/// An output file: not a directory, and its directory exists and takes new files.
fn check_file(flag: &str, file: &Path) -> anyhow::Result<()> {
    if file.is_dir() {
        anyhow::bail!("{flag} {}: is a directory, not a file", file.display());
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        anyhow::bail!(
            "{flag} {}: the directory {} does not exist",
            file.display(),
            parent.display()
        );
    }
    probe(parent).map_err(|e| {
        anyhow::anyhow!(
            "{flag} {}: cannot write files in {}: {e}",
            file.display(),
            parent.display()
        )
    })
}

impl Outputs {
    /// Checks every output before any work: directories are created (and must take
    /// files), a file's directory must exist and take files, and `--plot-format png`
    /// needs the `png` feature. The error names the option and the path.
    pub fn check(&self) -> anyhow::Result<()> {
        plots::check_format(self.plot_format)?;
        if let Some(dir) = &self.samples {
            check_dir("--samples", dir)?;
        }
        if let Some(dir) = &self.plots {
            check_dir("--plots", dir)?;
        }
        if let Some(file) = &self.html {
            check_file("--html", file)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lagtap-outputs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn directories_are_created_and_files_need_an_existing_directory() {
        let d = temp("ok");
        let o = Outputs {
            samples: Some(d.join("a/samples")),
            plots: Some(d.join("plots")),
            html: Some(d.join("report.html")),
            ..Default::default()
        };
        o.check().unwrap();
        assert!(d.join("a/samples").is_dir() && d.join("plots").is_dir());
        assert_eq!(std::fs::read_dir(d.join("plots")).unwrap().count(), 0);
        assert!(!d.join("report.html").exists(), "no file is left behind");

        let missing = d.join("nowhere/report.html");
        let e = Outputs {
            html: Some(missing.clone()),
            ..Default::default()
        };
        assert_eq!(
            e.check().unwrap_err().to_string(),
            format!(
                "--html {}: the directory {} does not exist",
                missing.display(),
                d.join("nowhere").display()
            )
        );
        let e = Outputs {
            html: Some(d.clone()),
            ..Default::default()
        };
        assert_eq!(
            e.check().unwrap_err().to_string(),
            format!("--html {}: is a directory, not a file", d.display())
        );
        let file = d.join("file");
        std::fs::write(&file, "x").unwrap();
        let e = Outputs {
            plots: Some(file.clone()),
            ..Default::default()
        };
        assert_eq!(
            e.check().unwrap_err().to_string(),
            format!("--plots {}: exists and is not a directory", file.display())
        );
        let e = Outputs {
            samples: Some(file.join("below")),
            ..Default::default()
        };
        assert!(e.check().unwrap_err().to_string().starts_with(&format!(
            "--samples {}: cannot create the directory: ",
            file.join("below").display()
        )));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[cfg(not(feature = "png"))]
    #[test]
    fn png_without_the_feature_is_refused_up_front() {
        let e = Outputs {
            plot_format: PlotFormat::Png,
            ..Default::default()
        };
        assert!(e
            .check()
            .unwrap_err()
            .to_string()
            .starts_with("--plot-format png: this lagtap was built without PNG plots"));
    }
}
