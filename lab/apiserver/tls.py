"""A throwaway self-signed certificate for 127.0.0.1, made with the `openssl` command,
so the emulator can serve HTTPS like a real API server (kubectl only sends bearer tokens
to TLS clusters)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class TLSSetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class Certificate:
    directory: Path
    cert: Path
    key: Path

    @property
    def pem(self) -> bytes:
        return self.cert.read_bytes()

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def self_signed(host: str = "127.0.0.1") -> Certificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TLSSetupError("serving HTTPS needs the openssl command: apt-get install openssl")
    directory = Path(tempfile.mkdtemp(prefix="metallb-apiserver-tls-"))
    cert, key = directory / "apiserver.crt", directory / "apiserver.key"
    result = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "7", "-subj", "/CN=metallb-lab-apiserver",
         "-addext", f"subjectAltName=IP:{host}", "-addext", "basicConstraints=critical,CA:TRUE",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise TLSSetupError(f"openssl could not make a certificate: {result.stderr.strip()}")
    return Certificate(directory, cert, key)
