//! Where a rule applies (QRS `ruleContext`) and where a request comes from.

use std::fmt;

/// A rule's context: hub, QMC or both (QRS `ruleContext` 1, 2, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RuleContext {
    /// Both in hub and QMC (0).
    #[default]
    Both,
    /// Only in hub (1).
    Hub,
    /// Only in QMC (2).
    Qmc,
}

impl RuleContext {
    /// The QRS integer.
    pub fn qrs(self) -> i64 {
        match self {
            RuleContext::Both => 0,
            RuleContext::Hub => 1,
            RuleContext::Qmc => 2,
        }
    }

    /// The context of a QRS integer.
    pub fn from_qrs(value: i64) -> Option<RuleContext> {
        match value {
            0 => Some(RuleContext::Both),
            1 => Some(RuleContext::Hub),
            2 => Some(RuleContext::Qmc),
            _ => None,
        }
    }

    /// The context of a name: `both`, `hub`, `qmc` (ignoring case; QRS enum names too).
    pub fn parse(name: &str) -> Option<RuleContext> {
        match name.to_ascii_lowercase().as_str() {
            "both" | "bothqliksenseandqmc" => Some(RuleContext::Both),
            "hub" | "qliksenseonly" => Some(RuleContext::Hub),
            "qmc" | "qmconly" => Some(RuleContext::Qmc),
            _ => None,
        }
    }

    /// The name used in site files.
    pub fn name(self) -> &'static str {
        match self {
            RuleContext::Both => "both",
            RuleContext::Hub => "hub",
            RuleContext::Qmc => "qmc",
        }
    }

    /// True when a rule of this context is consulted for a request from `request`.
    pub fn applies_to(self, request: RequestContext) -> bool {
        matches!(
            (self, request),
            (RuleContext::Both, _) | (RuleContext::Hub, RequestContext::Hub) | (RuleContext::Qmc, RequestContext::Qmc)
        )
    }

    /// True when `self` applies wherever `other` does.
    pub fn covers(self, other: RuleContext) -> bool {
        self == RuleContext::Both || self == other
    }
}

impl fmt::Display for RuleContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestContext {
    /// The hub.
    Hub,
    /// The QMC.
    Qmc,
}

impl RequestContext {
    /// Both request contexts.
    pub const ALL: [RequestContext; 2] = [RequestContext::Hub, RequestContext::Qmc];

    /// The context of a name: `hub` or `qmc`, ignoring case.
    pub fn parse(name: &str) -> Option<RequestContext> {
        match name.to_ascii_lowercase().as_str() {
            "hub" => Some(RequestContext::Hub),
            "qmc" => Some(RequestContext::Qmc),
            _ => None,
        }
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            RequestContext::Hub => "hub",
            RequestContext::Qmc => "qmc",
        }
    }

    /// 0 for hub, 1 for QMC (an index into per-context tables).
    pub fn index(self) -> usize {
        match self {
            RequestContext::Hub => 0,
            RequestContext::Qmc => 1,
        }
    }
}

impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
