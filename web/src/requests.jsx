// Requests: every certificate signing request, its request data (PEM) with a copy
// button and a download, and whether its signed certificate has come back.

import { useState } from "react";
import {
    Button, EmptyState, EmptyStateBody, Flex, FlexItem, Modal, ModalBody, ModalFooter, ModalHeader, TextArea,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";

import { call, download, fileStem, IFACE } from "./certd.js";
import { CopyButton, InlineError } from "./common.jsx";
import { formatSans, formatTime } from "./format.js";

// The PEM in a read-only text area, with copy and download.
export function RequestData({ pem, filename, idPrefix }) {
    return (
        <div className="certd-request-data">
            <TextArea id={`${idPrefix}-pem`} value={pem} readOnly aria-label="Request data (PEM)"
                      rows={Math.min(14, pem.split("\n").length)} className="certd-pem" resizeOrientation="vertical" />
            <Flex className="certd-request-actions">
                <FlexItem><CopyButton text={pem} id={`${idPrefix}-copy`} /></FlexItem>
                <FlexItem>
                    <Button id={`${idPrefix}-download`} variant="secondary"
                            onClick={() => download(filename, pem, "application/pkcs10")}>
                        Download {filename}
                    </Button>
                </FlexItem>
            </Flex>
        </div>
    );
}

function RequestDataDialog({ request, onClose }) {
    return (
        <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="request-data-title">
            <ModalHeader title={`Request data: ${request.FriendlyName}`} labelId="request-data-title"
                         description={request.Subject} />
            <ModalBody>
                <RequestData pem={request.RequestPem} filename={`${fileStem(request.FriendlyName)}.csr`}
                             idPrefix="request-data" />
            </ModalBody>
            <ModalFooter>
                <Button id="request-data-close" variant="primary" onClick={onClose}>Close</Button>
            </ModalFooter>
        </Modal>
    );
}

function DeleteRequestDialog({ request, onClose }) {
    const [error, setError] = useState(null);
    const remove = () => call(request.path, IFACE.request, "Delete", []).then(onClose, setError);
    return (
        <Modal isOpen variant="small" onClose={onClose} aria-labelledby="delete-request-title">
            <ModalHeader title={`Delete request “${request.FriendlyName}”?`} labelId="delete-request-title"
                         titleIconVariant="warning" />
            <ModalBody>
                Its key goes with it unless a certificate uses that key.
                <InlineError error={error} id="delete-request-error" />
            </ModalBody>
            <ModalFooter>
                <Button id="delete-request-confirm" variant="danger" onClick={remove}>Delete</Button>
                <Button variant="link" onClick={onClose}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}

export function RequestsTable({ state, navigate }) {
    const [showing, setShowing] = useState(null);
    const [deleting, setDeleting] = useState(null);
    const requests = Object.values(state.requests)
            .sort((a, b) => b.CreatedUSec - a.CreatedUSec || a.path.localeCompare(b.path));
    const manage = state.rights?.manage;

    if (requests.length === 0) {
        return (
            <EmptyState titleText="No certificate signing requests" headingLevel="h3" id="requests-empty">
                <EmptyStateBody>Create one with “Create” and the CSR form.</EmptyStateBody>
            </EmptyState>
        );
    }
    return (
        <>
            <Table aria-label="Certificate signing requests" id="requests-table" variant="compact">
                <Thead>
                    <Tr>
                        <Th modifier="wrap">Friendly name</Th>
                        <Th modifier="wrap">Subject</Th>
                        <Th modifier="wrap">Alternative names</Th>
                        <Th modifier="wrap">State</Th>
                        <Th modifier="wrap">Created</Th>
                        <Th modifier="wrap">Certificate</Th>
                        <Th screenReaderText="Actions" />
                    </Tr>
                </Thead>
                <Tbody>
                    {requests.map(r => {
                        const cert = state.certificates[r.Certificate];
                        return (
                            <Tr key={r.path} data-path={r.path} data-name={r.FriendlyName}>
                                <Td dataLabel="Friendly name">{r.FriendlyName}</Td>
                                <Td dataLabel="Subject">{r.Subject}</Td>
                                <Td dataLabel="Alternative names">{formatSans(r.SubjectAlternativeNames)}</Td>
                                <Td dataLabel="State" className="certd-request-state">{r.State}</Td>
                                <Td dataLabel="Created">{formatTime(r.CreatedUSec)}</Td>
                                <Td dataLabel="Certificate">
                                    {cert
                                        ? <Button variant="link" isInline onClick={() => navigate(["certificate", cert.path.split("/").pop()])}>
                                            {cert.FriendlyName}
                                        </Button>
                                        : "—"}
                                </Td>
                                <Td isActionCell>
                                    <Flex flexWrap={{ default: "nowrap" }}>
                                        <Button variant="secondary" size="sm" className="certd-show-request"
                                                onClick={() => setShowing(r.path)}>Request data</Button>
                                        {manage &&
                                        <Button variant="plain" size="sm" className="certd-delete-request"
                                                aria-label={`Delete request ${r.FriendlyName}`}
                                                onClick={() => setDeleting(r.path)}>Delete</Button>}
                                    </Flex>
                                </Td>
                            </Tr>
                        );
                    })}
                </Tbody>
            </Table>
            {showing && state.requests[showing] &&
                <RequestDataDialog request={state.requests[showing]} onClose={() => setShowing(null)} />}
            {deleting && state.requests[deleting] &&
                <DeleteRequestDialog request={state.requests[deleting]} onClose={() => setDeleting(null)} />}
        </>
    );
}

