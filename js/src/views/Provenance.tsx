// What produced a job's result: the tool and its version, the libraries and
// programs it ran on, the weights it loaded, the worker, and the fingerprints of its
// inputs and settings (the API's `provenance`, on a job read by its id).
import { formatTime } from "./format";

export interface ProvenanceRecord {
  derived_from: { job_id: string; how: string } | null;
  recorded_at: string | null;
  attempt: number | null;
  tool: { id: string; version: string } | null;
  software: { name: string; kind: string; version: string | null; path: string | null }[];
  models: { name: string; location: string; fingerprint: string | null }[];
  worker: {
    host: string;
    platform: string;
    python: string;
    cpu: string | null;
    cpus: number;
    gpu: string | null;
    threads: number | null;
  } | null;
  fingerprints: { inputs: string; settings: string } | null;
}

function workerLine(worker: NonNullable<ProvenanceRecord["worker"]>): string {
  const parts = [
    worker.host,
    worker.gpu ?? worker.cpu ?? "",
    `${String(worker.threads ?? worker.cpus)} of ${String(worker.cpus)} CPUs`,
    worker.platform,
    `Python ${worker.python}`,
  ];
  return parts.filter((part) => part !== "").join(" · ");
}

export function Provenance({ record }: { record: ProvenanceRecord }): React.JSX.Element {
  const { derived_from: origin, tool, worker, fingerprints } = record;
  return (
    <div data-testid="job-provenance">
      {record.recorded_at === null ? (
        <p className="piq-muted">Recorded when the job starts on a worker.</p>
      ) : (
        <dl className="piq-facts" aria-label="Provenance">
          {tool !== null && (
            <>
              <dt>Tool</dt>
              <dd>
                {tool.id} {tool.version}
              </dd>
            </>
          )}
          <dt>Attempt</dt>
          <dd>
            {String(record.attempt ?? "")}, {formatTime(record.recorded_at)}
          </dd>
          {worker !== null && (
            <>
              <dt>Worker</dt>
              <dd>{workerLine(worker)}</dd>
            </>
          )}
          {fingerprints !== null && (
            <>
              <dt>Fingerprints</dt>
              <dd>
                <code className="piq-small">inputs {fingerprints.inputs}</code>
                <br />
                <code className="piq-small">settings {fingerprints.settings}</code>
              </dd>
            </>
          )}
        </dl>
      )}
      {origin !== null && (
        <p className="piq-small">
          A {origin.how} of <code>{origin.job_id}</code>.
        </p>
      )}
      {record.software.length > 0 && (
        <table className="piq-table" aria-label="Software it ran on">
          <thead>
            <tr>
              <th scope="col">Software</th>
              <th scope="col">Kind</th>
              <th scope="col">Version</th>
            </tr>
          </thead>
          <tbody>
            {record.software.map((item) => (
              <tr key={`${item.kind}:${item.name}`}>
                <td>{item.name}</td>
                <td>{item.kind}</td>
                <td>{item.version ?? "unknown"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {record.models.map((model) => (
        <p key={model.location} className="piq-small">
          Weights <strong>{model.name}</strong> from <code>{model.location}</code>
          {model.fingerprint !== null && (
            <>
              {" "}
              (<code>{model.fingerprint}</code>)
            </>
          )}
        </p>
      ))}
    </div>
  );
}
