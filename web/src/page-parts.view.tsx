import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/** The page's heading: sets the title and takes focus after a route change, so screen readers hear it. */
export function PageTitle({ children, title }: { children: ComponentChildren; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · AppVault admin`;
    ref.current?.focus({ preventScroll: false });
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** An API error, worded as the API words it. */
export function ErrorNote({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status.toLowerCase()}`}>{status}</span>;
}

/** A table's column headings, in order; `null` leaves a column out (one shown only in some views). */
export function TableHead({ columns }: { columns: readonly (string | null)[] }) {
  return (
    <thead>
      <tr>
        {columns.map((name) =>
          name === null ? null : (
            <th scope="col" key={name}>
              {name}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}
