//! The outbound SMTP client: greeting, EHLO, STARTTLS, then transactions with PIPELINING and
//! several RCPTs, a reply per recipient, RFC 5321 §4.5.3.2 timeouts.

use crate::error::SmtpError;
use crate::reply::{parse_line, Reply, Severity};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

const MAX_REPLY_LINE: u64 = 4096;
const MAX_REPLY_LINES: usize = 100;

/// Per-stage time limits (defaults from RFC 5321 §4.5.3.2).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub greeting: Duration,
    pub command: Duration,
    pub data_init: Duration,
    pub data_block: Duration,
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(300),
            command: Duration::from_secs(300),
            data_init: Duration::from_secs(120),
            data_block: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
        }
    }
}

/// What the server announced in its EHLO reply.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    pub starttls: bool,
    pub pipelining: bool,
    pub size: Option<u64>,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
}

impl Capabilities {
    fn parse(reply_lines: &[String]) -> Self {
        let mut caps = Capabilities::default();
        for line in reply_lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let keyword = words.next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "STARTTLS" => caps.starttls = true,
                "PIPELINING" => caps.pipelining = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "SIZE" => caps.size = words.next().and_then(|n| n.parse().ok()).or(Some(0)),
                _ => {}
            }
        }
        caps
    }
}

/// Replies of one mail transaction.
#[derive(Debug, Clone)]
pub struct TransactionResult {
    pub mail: Reply,
    pub rcpts: Vec<Reply>,
    pub data: Option<Reply>,
}

impl TransactionResult {
    /// The reply that decides recipient `i`'s fate.
    pub fn for_recipient(&self, i: usize) -> Reply {
        if self.mail.severity() != Severity::Positive {
            return self.mail.clone();
        }
        match self.rcpts.get(i) {
            Some(r) if r.severity() != Severity::Positive => r.clone(),
            Some(_) => self
                .data
                .clone()
                .unwrap_or_else(|| Reply::new(451, "4.3.0 no reply to DATA")),
            None => Reply::new(451, "4.3.0 recipient not sent"),
        }
    }
}

/// One SMTP connection to a remote server.
pub struct SmtpClient {
    stream: BufReader<Box<dyn Stream>>,
    timeouts: Timeouts,
    helo_name: String,
    capabilities: Capabilities,
    tls: bool,
}

impl SmtpClient {
    /// Connects, reads the greeting and sends EHLO.
    pub async fn connect(
        addr: SocketAddr,
        helo_name: &str,
        timeouts: Timeouts,
    ) -> Result<Self, SmtpError> {
        let tcp = timeout(timeouts.connect, TcpStream::connect(addr))
            .await
            .map_err(|_| SmtpError::Timeout("connect"))??;
        tcp.set_nodelay(true)?;
        let mut client = SmtpClient {
            stream: BufReader::new(Box::new(tcp)),
            timeouts,
            helo_name: helo_name.to_string(),
            capabilities: Capabilities::default(),
            tls: false,
        };
        let greeting = client.read_reply(timeouts.greeting, "greeting").await?;
        if greeting.severity() != Severity::Positive {
            return Err(SmtpError::Refused(greeting));
        }
        client.ehlo().await?;
        Ok(client)
    }

    /// The server's capabilities from the last EHLO.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Whether the session is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    async fn ehlo(&mut self) -> Result<(), SmtpError> {
        let cmd = format!("EHLO {}\r\n", self.helo_name);
        self.write(cmd.as_bytes(), self.timeouts.command).await?;
        let (reply, lines) = self.read_reply_lines(self.timeouts.command, "EHLO").await?;
        if reply.severity() == Severity::Positive {
            self.capabilities = Capabilities::parse(&lines);
            return Ok(());
        }
        // Servers that do not speak ESMTP: fall back to HELO with no extensions.
        let cmd = format!("HELO {}\r\n", self.helo_name);
        self.write(cmd.as_bytes(), self.timeouts.command).await?;
        let reply = self.read_reply(self.timeouts.command, "HELO").await?;
        if reply.severity() != Severity::Positive {
            return Err(SmtpError::Refused(reply));
        }
        self.capabilities = Capabilities::default();
        Ok(())
    }

    /// Upgrades to TLS with STARTTLS when offered; `required` turns "not offered" into an error.
    pub async fn starttls(mut self, server_name: &str, required: bool) -> Result<Self, SmtpError> {
        if !self.capabilities.starttls {
            return if required {
                Err(SmtpError::TlsRequired)
            } else {
                Ok(self)
            };
        }
        self.write(b"STARTTLS\r\n", self.timeouts.command).await?;
        let reply = self.read_reply(self.timeouts.command, "STARTTLS").await?;
        if reply.severity() != Severity::Positive {
            return if required {
                Err(SmtpError::Refused(reply))
            } else {
                Ok(self)
            };
        }
        if !self.stream.buffer().is_empty() {
            // Data pipelined after the 220 would be injected into the TLS session (CVE-2011-0411 class).
            return Err(SmtpError::MalformedReply);
        }
        let name =
            rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap_or_else(|_| {
                rustls::pki_types::ServerName::try_from("localhost").expect("valid")
            });
        let connector = tokio_rustls::TlsConnector::from(crate::tls::opportunistic_config());
        let inner = self.stream.into_inner();
        let tls = timeout(self.timeouts.command, connector.connect(name, inner))
            .await
            .map_err(|_| SmtpError::Timeout("TLS handshake"))?
            .map_err(|e| SmtpError::Tls(e.to_string()))?;
        let mut upgraded = SmtpClient {
            stream: BufReader::new(Box::new(tls)),
            timeouts: self.timeouts,
            helo_name: self.helo_name,
            capabilities: Capabilities::default(),
            tls: true,
        };
        upgraded.ehlo().await?;
        Ok(upgraded)
    }

    /// Runs one transaction. `data` must already be dot-stuffed and terminated ([`crate::dot_stuff`]).
    pub async fn send(
        &mut self,
        from: &str,
        rcpts: &[String],
        data: &[u8],
    ) -> Result<TransactionResult, SmtpError> {
        let caps = self.capabilities.clone();
        let mut mail = format!("MAIL FROM:<{from}>");
        if caps.size.is_some() {
            mail += &format!(" SIZE={}", data.len());
        }
        if caps.eight_bit_mime && !data.is_ascii() {
            mail += " BODY=8BITMIME";
        }
        let needs_utf8 = !from.is_ascii() || rcpts.iter().any(|r| !r.is_ascii());
        if caps.smtputf8 && needs_utf8 {
            mail += " SMTPUTF8";
        }
        mail += "\r\n";
        let rcpt_cmds: Vec<String> = rcpts.iter().map(|r| format!("RCPT TO:<{r}>\r\n")).collect();
        let t = self.timeouts;

        let (mail_reply, rcpt_replies, data_reply) = if caps.pipelining {
            let mut batch = mail.into_bytes();
            for cmd in &rcpt_cmds {
                batch.extend_from_slice(cmd.as_bytes());
            }
            batch.extend_from_slice(b"DATA\r\n");
            self.write(&batch, t.command).await?;
            let mail_reply = self.read_reply(t.command, "MAIL").await?;
            let mut rcpt_replies = Vec::with_capacity(rcpts.len());
            for _ in rcpts {
                rcpt_replies.push(self.read_reply(t.command, "RCPT").await?);
            }
            let data_reply = self.read_reply(t.data_init, "DATA").await?;
            (mail_reply, rcpt_replies, data_reply)
        } else {
            self.write(mail.as_bytes(), t.command).await?;
            let mail_reply = self.read_reply(t.command, "MAIL").await?;
            if mail_reply.severity() != Severity::Positive {
                self.reset().await?;
                return Ok(TransactionResult {
                    mail: mail_reply,
                    rcpts: vec![],
                    data: None,
                });
            }
            let mut rcpt_replies = Vec::with_capacity(rcpts.len());
            for cmd in &rcpt_cmds {
                self.write(cmd.as_bytes(), t.command).await?;
                rcpt_replies.push(self.read_reply(t.command, "RCPT").await?);
            }
            if !rcpt_replies
                .iter()
                .any(|r| r.severity() == Severity::Positive)
            {
                self.reset().await?;
                return Ok(TransactionResult {
                    mail: mail_reply,
                    rcpts: rcpt_replies,
                    data: None,
                });
            }
            self.write(b"DATA\r\n", t.command).await?;
            let data_reply = self.read_reply(t.data_init, "DATA").await?;
            (mail_reply, rcpt_replies, data_reply)
        };

        if data_reply.code != 354 {
            if data_reply.severity() == Severity::Positive {
                return Err(SmtpError::MalformedReply);
            }
            self.reset().await?;
            let any_ok = rcpt_replies
                .iter()
                .any(|r| r.severity() == Severity::Positive);
            let data = any_ok.then_some(data_reply);
            return Ok(TransactionResult {
                mail: mail_reply,
                rcpts: rcpt_replies,
                data,
            });
        }
        let accepted = mail_reply.severity() == Severity::Positive
            && rcpt_replies
                .iter()
                .any(|r| r.severity() == Severity::Positive);
        if !accepted {
            // 354 with no valid recipient (RFC 2920 §3.1): send an empty message and drop it.
            self.write(b".\r\n", t.data_end).await?;
            let _ = self.read_reply(t.data_end, "end of data").await?;
            return Ok(TransactionResult {
                mail: mail_reply,
                rcpts: rcpt_replies,
                data: None,
            });
        }
        self.write(data, t.data_block).await?;
        let final_reply = self.read_reply(t.data_end, "end of data").await?;
        Ok(TransactionResult {
            mail: mail_reply,
            rcpts: rcpt_replies,
            data: Some(final_reply),
        })
    }

    /// Sends RSET so the next transaction starts clean.
    pub async fn reset(&mut self) -> Result<(), SmtpError> {
        self.write(b"RSET\r\n", self.timeouts.command).await?;
        self.read_reply(self.timeouts.command, "RSET").await?;
        Ok(())
    }

    /// Ends the session politely.
    pub async fn quit(mut self) {
        if self
            .write(b"QUIT\r\n", Duration::from_secs(5))
            .await
            .is_ok()
        {
            let _ = self.read_reply(Duration::from_secs(5), "QUIT").await;
        }
    }

    async fn write(&mut self, bytes: &[u8], limit: Duration) -> Result<(), SmtpError> {
        let stream = self.stream.get_mut();
        timeout(limit, async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| SmtpError::Timeout("write"))??;
        Ok(())
    }

    async fn read_reply(
        &mut self,
        limit: Duration,
        what: &'static str,
    ) -> Result<Reply, SmtpError> {
        Ok(self.read_reply_lines(limit, what).await?.0)
    }

    async fn read_reply_lines(
        &mut self,
        limit: Duration,
        what: &'static str,
    ) -> Result<(Reply, Vec<String>), SmtpError> {
        timeout(limit, async {
            let mut lines = Vec::new();
            let mut code = 0;
            loop {
                let mut raw = Vec::new();
                let n = (&mut self.stream)
                    .take(MAX_REPLY_LINE)
                    .read_until(b'\n', &mut raw)
                    .await?;
                if n == 0 {
                    return Err(SmtpError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                }
                let text = String::from_utf8_lossy(&raw);
                let (line_code, last, rest) = parse_line(&text).ok_or(SmtpError::MalformedReply)?;
                if code != 0 && line_code != code {
                    return Err(SmtpError::MalformedReply);
                }
                code = line_code;
                lines.push(rest.to_string());
                if last {
                    break;
                }
                if lines.len() > MAX_REPLY_LINES {
                    return Err(SmtpError::MalformedReply);
                }
            }
            let text = lines.join(" ");
            Ok((Reply::new(code, text), lines))
        })
        .await
        .map_err(|_| SmtpError::Timeout(what))?
    }
}
