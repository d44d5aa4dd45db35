/** The PostgreSQL the tests use: PG_TEST_URL, or the project's local one (trust auth). */
export const PG_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
