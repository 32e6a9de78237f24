-- Second database on the compose PostgreSQL: analyst feedback (MLflow uses "mlflow").
CREATE DATABASE feedback;
