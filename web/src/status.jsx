// Status > Basics: host, version, uptime, terminator state, addresses, soonest expiry.
// GetStatus is fetched again when certd announces a change (no polling); the uptime
// counts on in the browser between fetches.

import { useEffect, useState } from "react";
import {
    Button, Card, CardBody, CardTitle, DescriptionList, DescriptionListDescription, DescriptionListGroup,
    DescriptionListTerm, Label,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";

import { callManager, idOf } from "./certd.js";
import { InlineError } from "./common.jsx";
import { daysUntil, formatDuration, formatTime } from "./format.js";

const STATE_COLOR = { running: "green", starting: "blue", restarting: "orange", failed: "red", stopped: "grey" };

export function Status({ state, navigate }) {
    const [status, setStatus] = useState(null);
    const [fetchedAt, setFetchedAt] = useState(0);
    const [now, setNow] = useState(Date.now());
    const [error, setError] = useState(null);

    // Any change certd announces (objects, bindings, terminator state) refreshes the status.
    useEffect(() => {
        callManager("GetStatus", [])
                .then(([s]) => {
                    const plain = {};
                    for (const [k, v] of Object.entries(s))
                        plain[k] = v.v;
                    setStatus(plain);
                    setFetchedAt(Date.now());
                    setError(null);
                }, setError);
    }, [state.certificates, state.addresses, state.requests, state.keys, state.manager]);

    // The uptime display ticks locally once a second; nothing is asked of certd.
    useEffect(() => {
        const timer = setInterval(() => setNow(Date.now()), 1000);
        return () => clearInterval(timer);
    }, []);

    if (error)
        return <InlineError error={error} id="status-error" />;
    if (!status)
        return <p>Loading…</p>;

    const terminator = state.manager.TerminatorState || status.TerminatorState;
    const terminatorError = state.manager.TerminatorError ?? status.TerminatorError;
    const uptime = status.UptimeUSec + Math.max(0, now - fetchedAt) * 1000;
    const soonest = status.SoonestExpiry !== "/" ? state.certificates[status.SoonestExpiry] : null;
    const link = path => state.certificates[path]
        ? <Button variant="link" isInline onClick={() => navigate(["certificate", idOf(path)])}>{state.certificates[path].FriendlyName}</Button>
        : path;

    const rows = [
        ["Host name", status.Hostname],
        ["Machine ID", <code key="m">{status.MachineId}</code>],
        ["certd version", status.Version],
        ["Uptime", formatDuration(uptime)],
        ["TLS terminator", <span key="t"><Label color={STATE_COLOR[terminator] || "grey"} id="status-terminator">{terminator}</Label>
            {terminatorError && <span className="certd-error"> {terminatorError}</span>}</span>],
        ["Soonest expiry", status.SoonestExpiryUSec
            ? <span key="e">{soonest ? link(status.SoonestExpiry) : ""} {formatTime(status.SoonestExpiryUSec)} ({daysUntil(status.SoonestExpiryUSec)} days)</span>
            : "—"],
        ["Stored", `${status.Certificates} certificates, ${status.Keys} keys, ${status.Requests} requests`],
    ];

    return (
        <div id="status">
            <Card>
                <CardTitle>Basics</CardTitle>
                <CardBody>
                    <DescriptionList isHorizontal isCompact id="status-basics">
                        {rows.map(([term, value]) => (
                            <DescriptionListGroup key={term}>
                                <DescriptionListTerm>{term}</DescriptionListTerm>
                                <DescriptionListDescription data-term={term}>{value}</DescriptionListDescription>
                            </DescriptionListGroup>
                        ))}
                    </DescriptionList>
                </CardBody>
            </Card>
            <Card>
                <CardTitle>Addresses</CardTitle>
                <CardBody>
                    <Table aria-label="Addresses" id="status-addresses" variant="compact">
                        <Thead>
                            <Tr><Th>Address</Th><Th>Port</Th><Th>State</Th><Th>Certificate</Th><Th>Origin</Th></Tr>
                        </Thead>
                        <Tbody>
                            {Object.values(state.addresses)
                                    .sort((a, b) => a.Address.localeCompare(b.Address, "en", { numeric: true }))
                                    .map(a => (
                                        <Tr key={a.path} data-address={a.Address}>
                                            <Td dataLabel="Address">{a.Address}</Td>
                                            <Td dataLabel="Port">{a.Port}</Td>
                                            <Td dataLabel="State">{a.State}{a.Error ? `: ${a.Error}` : ""}</Td>
                                            <Td dataLabel="Certificate" className="certd-address-certificate">{link(a.Certificate)}</Td>
                                            <Td dataLabel="Origin">{a.Origin}</Td>
                                        </Tr>
                                    ))}
                        </Tbody>
                    </Table>
                </CardBody>
            </Card>
        </div>
    );
}
