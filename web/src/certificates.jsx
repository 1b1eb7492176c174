// Security > Certificates: the table, live, with Create / Import / Export / Assign IP.

import {
    Button, EmptyState, EmptyStateBody, Label, Toolbar, ToolbarContent, ToolbarItem,
} from "@patternfly/react-core";
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";

import { idOf } from "./certd.js";
import { WarningLabels } from "./common.jsx";
import { daysUntil, formatDate, formatSans } from "./format.js";

function Expiration({ usec }) {
    const days = daysUntil(usec);
    const date = formatDate(usec);
    if (days < 0)
        return <span className="certd-expired">{date} (expired)</span>;
    if (days <= 30)
        return <span className="certd-expiring">{date} ({days} day{days === 1 ? "" : "s"})</span>;
    return date;
}

export function sortedCertificates(certificates) {
    return Object.values(certificates).sort((a, b) =>
        (b.IsFactoryDefault - a.IsFactoryDefault) ||
        a.FriendlyName.localeCompare(b.FriendlyName) || a.path.localeCompare(b.path));
}

export function CertificatesTable({ state, navigate, onCreate, onImport, onExport }) {
    const manage = state.rights?.manage;
    const certificates = sortedCertificates(state.certificates);

    const toolbar = manage && (
        <Toolbar id="certificates-toolbar">
            <ToolbarContent>
                <ToolbarItem>
                    <Button id="create-button" variant="primary" onClick={onCreate}>Create</Button>
                </ToolbarItem>
                <ToolbarItem>
                    <Button id="import-button" variant="secondary" onClick={onImport}>Import</Button>
                </ToolbarItem>
            </ToolbarContent>
        </Toolbar>
    );

    if (certificates.length === 0) {
        return (
            <>
                {toolbar}
                <EmptyState titleText="No certificates" headingLevel="h3">
                    <EmptyStateBody>certd has not published its certificates yet.</EmptyStateBody>
                </EmptyState>
            </>
        );
    }

    return (
        <>
            {toolbar}
            <Table aria-label="Certificates" id="certificates-table" variant="compact">
                <Thead>
                    <Tr>
                        <Th modifier="wrap">Friendly name</Th>
                        <Th modifier="wrap">Issued to</Th>
                        <Th modifier="wrap">Issued by</Th>
                        <Th modifier="wrap">Expiration date</Th>
                        <Th modifier="wrap">Alternative names</Th>
                        <Th modifier="wrap">IP addresses</Th>
                        <Th modifier="wrap">Private key</Th>
                        <Th modifier="wrap">Warnings</Th>
                        <Th screenReaderText="Actions" />
                    </Tr>
                </Thead>
                <Tbody>
                    {certificates.map(c => {
                        const open = () => navigate(["certificate", idOf(c.path)]);
                        const actions = [
                            { title: manage ? "Edit configuration" : "Details", onClick: open },
                            { title: "Export", onClick: () => onExport(c.path) },
                        ];
                        if (manage && c.HasPrivateKey)
                            actions.splice(1, 0, { title: "Assign IP addresses", onClick: () => navigate(["certificate", idOf(c.path)], { section: "addresses" }) });
                        return (
                            <Tr key={c.path} data-path={c.path} data-name={c.FriendlyName} className="certd-certificate-row">
                                <Td dataLabel="Friendly name" className="certd-col-name">
                                    <Button variant="link" isInline onClick={open}>{c.FriendlyName}</Button>
                                    {c.IsFactoryDefault && <Label isCompact className="certd-factory">factory default</Label>}
                                    {c.Kind !== "server" && <Label isCompact color="blue">{c.Kind}</Label>}
                                </Td>
                                <Td dataLabel="Issued to" className="certd-col-issued-to">{c.IssuedTo}</Td>
                                <Td dataLabel="Issued by" className="certd-col-issued-by">{c.IssuedBy}</Td>
                                <Td dataLabel="Expiration date" className="certd-col-expiration"><Expiration usec={c.NotAfterUSec} /></Td>
                                <Td dataLabel="Alternative names" className="certd-col-sans">{formatSans(c.SubjectAlternativeNames)}</Td>
                                <Td dataLabel="IP addresses" className="certd-col-addresses">{c.Addresses.join(", ")}</Td>
                                <Td dataLabel="Private key" className="certd-col-key">{c.HasPrivateKey ? "Available" : "Not available"}</Td>
                                <Td dataLabel="Warnings" className="certd-col-warnings"><WarningLabels warnings={c.Warnings} /></Td>
                                <Td isActionCell>
                                    <ActionsColumn items={actions} popperProps={{ position: "right" }} />
                                </Td>
                            </Tr>
                        );
                    })}
                </Tbody>
            </Table>
        </>
    );
}
